"""LightGBM behind the Predictor port: training, loading text models, validating uploads."""

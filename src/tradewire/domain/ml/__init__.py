"""Machine-learning signal sources in pure numpy: the versioned feature set, labels, walk-forward splits,
metrics and the `lightgbm` strategy. LightGBM itself lives in an adapter behind a port; nothing here
imports it."""

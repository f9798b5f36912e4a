"""Paper trading: a simulated exchange and market-data feed for demos and tests."""

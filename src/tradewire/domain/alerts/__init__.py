"""Alerts from signal sources (TradingView webhooks) read as trading signals: pure parsing, no I/O."""

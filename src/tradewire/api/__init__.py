"""HTTP interface: REST, the TradingView webhook, and (later) WebSocket streams and the dashboard."""

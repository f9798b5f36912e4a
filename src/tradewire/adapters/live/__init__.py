"""Live exchanges through ccxt: idempotent orders, error taxonomy, rate limits, circuit breaker."""

"""Adapters: the implementations of the ports (exchanges, storage, market data)."""

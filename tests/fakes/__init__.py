"""Test doubles that speak real exchange protocols (driven by the real ccxt client)."""

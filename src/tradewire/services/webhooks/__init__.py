"""Outgoing webhooks: setting them up (setup.py) and delivering the outbox's notifications (delivery.py)."""

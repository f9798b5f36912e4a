"""AI chart analysis: the chart a vision model reads and the client that asks it."""

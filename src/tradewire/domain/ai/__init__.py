"""AI chart analysis: what a vision model's answer must say, how it is scored and checked."""

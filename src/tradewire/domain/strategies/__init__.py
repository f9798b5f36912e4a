"""Built-in indicator strategies and the small interface every strategy implements."""

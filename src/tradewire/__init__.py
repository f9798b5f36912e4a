"""tradewire: trading signals in, orders out for every subscriber."""

__version__ = "0.1.0"

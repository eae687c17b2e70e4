"""Version of the codesim engine, recorded in every result."""

__version__ = "0.2.0"

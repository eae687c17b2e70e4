"""Version of the probes engine, recorded in every result."""

__version__ = "0.1.0"

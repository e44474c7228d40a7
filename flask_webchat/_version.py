"""The package's version: a leaf module, so that anything may import it and setup.cfg reads it."""

__version__ = "0.1.0"

"""Taktline: a production portal for contract manufacturers."""

__version__ = "0.1.0"

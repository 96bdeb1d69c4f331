"""Headwater: a self-hosted, first-party event pipeline."""

__version__ = "0.1.0"

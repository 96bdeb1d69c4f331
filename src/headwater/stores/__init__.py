"""Stores, chosen by URL scheme. Nothing outside this package branches on a backend's name."""

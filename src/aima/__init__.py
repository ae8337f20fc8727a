"""AIMA: self-hosted AI media analysis."""

__version__ = "0.1.0"

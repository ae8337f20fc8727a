"""The ``aima`` command line."""

from __future__ import annotations

from aima.cli.main import app, main

__all__ = ["app", "main"]

"""Identifiers: sortable, random, never derived from user input."""

from __future__ import annotations

import os
import time


def new_id(prefix: str) -> str:
    """A time-ordered id such as ``med_0192f1c3a4b5...`` (48-bit ms clock + 80 random bits)."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    return f"{prefix}_{ms:012x}{os.urandom(10).hex()}"

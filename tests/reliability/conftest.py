"""Shared pieces of the reliability tier: the figure lines every test prints.

Each reliability test states what it measured on one line starting with ``RELIABILITY:``
(``pytest -s`` shows it). CI captures output, so when ``RELIABILITY_REPORT`` names a file the
line is appended there too (``RELIABILITY_REPORT=reliability.txt pytest -m reliability``).
"""

from __future__ import annotations

import os

from tests.jobs.conftest import image, make_rt

__all__ = ["figure", "image", "make_rt"]  # the job-ledger fixtures, shared with this tier

PREFIX = "RELIABILITY:"


def figure(line: str) -> str:
    """Print one figure line (and append it to ``$RELIABILITY_REPORT`` when set)."""
    text = f"{PREFIX} {line}"
    print(text, flush=True)
    target = os.environ.get("RELIABILITY_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return text

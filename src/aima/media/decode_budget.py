"""A memory budget for decoding untrusted images: no mix of valid uploads can exhaust RAM.

A 400 KB PNG can legally describe 10,000 × 10,000 pixels: decoding it takes ~300 MB, and many
at once would take the server down although each is under the pixel limit. Every full
decode first reserves its decoded size (width × height × bytes per pixel) from one budget per
process and gives it back afterwards; a decode that does not fit waits for others to finish.
One image larger than the whole budget (but under the pixel limit) runs alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DecodeBudget:
    def __init__(self, budget_bytes: int) -> None:
        if budget_bytes <= 0:
            raise ValueError("the decode budget must be positive")
        self.budget = budget_bytes
        self._free = budget_bytes
        self._cond = threading.Condition()
        self.peak_reserved = 0  # the most reserved at once (reported by benchmarks/tests)

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        need = max(1, min(int(nbytes), self.budget))
        with self._cond:
            self._cond.wait_for(lambda: self._free >= need)
            self._free -= need
            self.peak_reserved = max(self.peak_reserved, self.budget - self._free)
        try:
            yield
        finally:
            with self._cond:
                self._free += need
                self._cond.notify_all()


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """What Pillow allocates for one decoded frame of this size and mode."""
    per_pixel = {"1": 1, "L": 1, "P": 1, "LA": 2, "I;16": 2, "RGB": 3, "YCbCr": 3, "LAB": 3}
    return width * height * per_pixel.get(mode, 4)

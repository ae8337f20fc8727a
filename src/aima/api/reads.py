"""A narrow lane of threads for the short database reads every screen makes.

FastAPI runs each plain ``def`` route and dependency in a shared pool of 40 threads. Under
many concurrent clients those threads all contend for the one interpreter lock, and each
request then costs far more CPU than it does alone (measured by
``benchmarks/listing_load_bench.py``: 20 ms instead of 10 ms per listing at 50 clients).
The caller's account (every request) and the listings run here instead, a few threads at a
time (``AIMA_API__READ_THREADS``, 4 by default), queueing in the event loop rather than in
the interpreter. Only quick reads belong here: never uploads, exports, model calls or
anything that may wait on a lock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import Request

T = TypeVar("T")

_LIMITER = "aima_read_limiter"


def _limiter(request: Request) -> CapacityLimiter:
    """One limiter per app, made in its event loop on first use."""
    state = request.app.state
    limiter: CapacityLimiter | None = getattr(state, _LIMITER, None)
    if limiter is None:
        limiter = CapacityLimiter(request.app.state.runtime.settings.api.read_threads)
        setattr(state, _LIMITER, limiter)
    return limiter


async def read(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the read lane."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=_limiter(request))

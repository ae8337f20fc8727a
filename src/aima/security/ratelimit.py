"""Counting events per key in a time window: login throttling, request rate limits, quotas.

Two interchangeable backends behind one small protocol: in-process (the embedded default:
one API process) and Redis (``AIMA_REDIS_URL``: every API process shares the counts). Both
count *fixed windows* (a key's count resets ``window_s`` after its first event), which is
what lockouts need: "5 failures within 15 minutes locks for the rest of the window".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Count:
    value: int  # events in the current window, this one included
    reset_in_s: float  # when the window ends


class Counter(Protocol):
    def incr(self, key: str, window_s: float) -> Count: ...

    def peek(self, key: str) -> Count: ...

    def reset(self, key: str) -> None: ...


class MemoryCounter:
    """Thread-safe fixed windows in this process (keys expire lazily; bounded by ``max_keys``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._max = max_keys
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (ends_at, count)

    def incr(self, key: str, window_s: float) -> Count:
        now = self._clock()
        with self._lock:
            ends, n = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, n = now + window_s, 0
                if len(self._windows) >= self._max:
                    self._evict(now)
            self._windows[key] = (ends, n + 1)
            return Count(n + 1, ends - now)

    def peek(self, key: str) -> Count:
        now = self._clock()
        with self._lock:
            ends, n = self._windows.get(key, (0.0, 0))
        return Count(n, ends - now) if ends > now else Count(0, 0.0)

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def _evict(self, now: float) -> None:
        for k in [k for k, (ends, _) in self._windows.items() if ends <= now]:
            del self._windows[k]
        while len(self._windows) >= self._max:  # still full of live keys: drop the oldest
            self._windows.pop(next(iter(self._windows)))


class RedisCounter:
    """Fixed windows in Redis: INCR, and PEXPIRE on the first event of a window."""

    def __init__(self, client: Any, prefix: str = "aima:rl:") -> None:
        self._r = client
        self._prefix = prefix

    def incr(self, key: str, window_s: float) -> Count:
        k = self._prefix + key
        pipe = self._r.pipeline()
        pipe.incr(k)
        pipe.pexpire(k, int(window_s * 1000), nx=True)
        pipe.pttl(k)
        value, _, ttl = pipe.execute()
        return Count(int(value), max(0.0, int(ttl) / 1000))

    def peek(self, key: str) -> Count:
        k = self._prefix + key
        pipe = self._r.pipeline()
        pipe.get(k)
        pipe.pttl(k)
        value, ttl = pipe.execute()
        if value is None or int(ttl) <= 0:
            return Count(0, 0.0)
        return Count(int(value), int(ttl) / 1000)

    def reset(self, key: str) -> None:
        self._r.delete(self._prefix + key)


def make_counter(redis_url: str | None) -> Counter:
    if not redis_url:
        return MemoryCounter()
    import redis

    return RedisCounter(redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2))

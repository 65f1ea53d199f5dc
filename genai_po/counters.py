"""Counters in the shared cache that hold under concurrent requests.

Redis' INCR is atomic across every process. The file cache of the embedded mode has no
atomic increment (Django reads, then writes), but the embedded mode has one web process:
a lock makes its read-and-write one step there. Limits are counted in fixed windows:
`window_hit` answers how many hits the current window holds, this one included.
"""

import threading
import time

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

_LOCK = threading.Lock()


def _atomic_backend() -> bool:
    return isinstance(cache, RedisCache) or isinstance(getattr(cache, "_cache", None), RedisCache)


def incr(key: str, timeout: int) -> int:
    """Add one to `key` (made with `timeout` seconds to live) and answer its new value."""
    if _atomic_backend():
        return _incr(key, timeout)
    with _LOCK:
        return _incr(key, timeout)


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _now() -> float:
    return time.time()


def window_hit(key: str, window: int) -> tuple[int, float]:
    """Count one hit in the current `window`-second window of `key`: (hits in it so far,
    seconds until it ends)."""
    now = _now()
    start = int(now // window) * window
    return incr(f"{key}:{start}", window + 5), start + window - now


def window_count(key: str, window: int) -> tuple[int, float]:
    """The hits of the current window, without adding one."""
    now = _now()
    start = int(now // window) * window
    return int(cache.get(f"{key}:{start}") or 0), start + window - now

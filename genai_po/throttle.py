"""Sign-in throttling: lock an account after repeated failures, rate-limit an address.

Counters live in the shared cache (Redis in the full stack), so every web process
sees the same numbers. The account key is hashed and applies whether or not the
account exists, so the lockout message reveals nothing.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    return f"signin:{kind}:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()


def _bump(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def signin_blocked_reason(*, email: str, ip: str | None) -> str | None:
    """Why a sign-in must be refused before the password is even checked, if it must."""
    minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    if cache.get(_key("locked", email)):
        return (
            "Too many failed sign-in attempts for this account. "
            f"Try again in {minutes} minutes, or reset your password."
        )
    if ip and (cache.get(_key("ip", ip)) or 0) >= settings.LOGIN_IP_FAILURE_LIMIT:
        return (
            f"Too many failed sign-in attempts from your network. Try again in {minutes} minutes."
        )
    return None


def signin_failed(*, email: str, ip: str | None) -> None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    if _bump(_key("fail", email), window) >= settings.LOGIN_FAILURE_LIMIT:
        cache.set(_key("locked", email), 1, timeout=window)
        cache.delete(_key("fail", email))
    if ip:
        _bump(_key("ip", ip), window)


def signin_succeeded(*, email: str) -> None:
    cache.delete(_key("fail", email))

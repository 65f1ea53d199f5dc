"""Sign-in throttling, in three counters kept in the shared cache (Redis in the full stack),
so every web process sees the same numbers:

- per (account, address): LOGIN_FAILURE_LIMIT failures lock that account *from that
  address* for LOGIN_LOCKOUT_SECONDS. Someone guessing elsewhere cannot lock you out.
- per account, from anywhere: past LOGIN_ACCOUNT_FAILURE_LIMIT failures (within the
  lockout window), each attempt waits a back-off that doubles from
  LOGIN_ACCOUNT_BACKOFF_SECONDS up to LOGIN_LOCKOUT_SECONDS: guessing from many addresses
  gets slow, while the owner is only slowed down, not shut out.
- per address, across accounts: LOGIN_IP_FAILURE_LIMIT failures rate-limit the address.

A password reset lifts the account's locks (a new generation of its keys). Keys are hashed
and work whether or not the account exists, so the messages reveal nothing.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from genai_po import counters


def _hash(*parts) -> str:
    joined = "\x1f".join(str(p).strip().lower() for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()


def _generation(email: str) -> int:
    return cache.get(f"signin:gen:{_hash(email)}") or 0


def _pair_key(kind: str, email: str, ip: str | None) -> str:
    return f"signin:{kind}:" + _hash(email, ip or "-", _generation(email))


def _account_key(kind: str, email: str) -> str:
    return f"signin:account-{kind}:" + _hash(email, _generation(email))


def _ip_key(ip: str) -> str:
    return "signin:ip:" + _hash(ip)


def _bump(key: str, window: int) -> int:
    return counters.incr(key, window)


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60))


def signin_blocked_reason(*, email: str, ip: str | None) -> str | None:
    """Why a sign-in must be refused before the password is even checked, if it must."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    if cache.get(_pair_key("locked", email, ip)):
        return (
            "Too many failed sign-in attempts for this account from your network. "
            f"Try again in {_minutes(window)} minutes, or reset your password."
        )
    until = cache.get(_account_key("until", email)) or 0
    wait = round(until - time.time())
    if wait > 0:
        return (
            "This account had many failed sign-in attempts: wait "
            f"{wait} second{'s' if wait != 1 else ''} before trying again, or reset your "
            "password."
        )
    if ip and (cache.get(_ip_key(ip)) or 0) >= settings.LOGIN_IP_FAILURE_LIMIT:
        return (
            "Too many failed sign-in attempts from your network. "
            f"Try again in {_minutes(window)} minutes."
        )
    return None


def signin_attempt(*, email: str, ip: str | None) -> str | None:
    """Count an attempt of (account, address) before its password is checked, and refuse
    it if it is beyond the limit: concurrent guesses are counted as they arrive, so a
    burst cannot slip past the lock while the slow password hashes run."""
    reason = signin_blocked_reason(email=email, ip=ip)
    if reason:
        return reason
    window = settings.LOGIN_LOCKOUT_SECONDS
    # The count is not reset when the lock is set: an attempt in flight must not find it
    # at zero again (both expire with the window).
    if _bump(_pair_key("fail", email, ip), window) > settings.LOGIN_FAILURE_LIMIT:
        cache.set(_pair_key("locked", email, ip), 1, timeout=window)
        return signin_blocked_reason(email=email, ip=ip)
    return None


def signin_failed(*, email: str, ip: str | None) -> None:
    """A wrong password (its attempt was counted by signin_attempt)."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    if (cache.get(_pair_key("fail", email, ip)) or 0) >= settings.LOGIN_FAILURE_LIMIT:
        cache.set(_pair_key("locked", email, ip), 1, timeout=window)
    failures = _bump(_account_key("fail", email), window)
    beyond = failures - settings.LOGIN_ACCOUNT_FAILURE_LIMIT
    if beyond >= 0:
        backoff = min(settings.LOGIN_ACCOUNT_BACKOFF_SECONDS * 2 ** min(beyond, 20), window)
        cache.set(_account_key("until", email), time.time() + backoff, timeout=backoff)
    if ip:
        _bump(_ip_key(ip), window)


def signin_succeeded(*, email: str, ip: str | None) -> None:
    """A real sign-in clears its address's count (not the account's: the owner signing in
    says nothing about whoever guesses elsewhere)."""
    cache.delete(_pair_key("fail", email, ip))


def signin_unlock(*, email: str) -> None:
    """Lift every lock of the account (its password was just reset)."""
    key = f"signin:gen:{_hash(email)}"
    cache.set(key, _generation(email) + 1, timeout=None)

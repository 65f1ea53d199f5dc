"""API rate limits, counted in the shared cache (Redis in the full stack, the file cache in
the embedded mode), so every web process sees the same numbers.

- per token: every call of an organization's token (`API_RATE_PER_TOKEN`);
- per address: every call from one client address, whatever the token (`API_RATE_PER_IP`);
- run starts: starting eval runs, lower, per token (`API_RATE_RUN_STARTS`);
- failed tokens: wrong, expired or revoked tokens from one address
  (`API_AUTH_FAILURES_PER_IP`), checked before the token is even looked up.

An exceeded limit answers 429 with `Retry-After` and a JSON message.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from genai_po.actors import client_ip

SCOPE_SETTINGS = {
    "token": "API_RATE_PER_TOKEN",
    "ip": "API_RATE_PER_IP",
    "run_start": "API_RATE_RUN_STARTS",
}
_WHAT = {
    "token": "this token",
    "ip": "your address",
    "run_start": "this token's run starts",
}


class _SettingsRateThrottle(SimpleRateThrottle):
    """A rate read from the settings at each request (so it can be changed by environment)."""

    def get_rate(self):
        return getattr(settings, SCOPE_SETTINGS[self.scope])

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if super().allow_request(request, view):
            return True
        raise Throttled(
            wait=self.wait(),
            detail=(
                f"Too many requests: {_WHAT[self.scope]} may make {self.num_requests} every "
                f"{_period(self.duration)}. Try again in {max(1, round(self.wait() or 1))} s."
            ),
        )


def _period(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")


class TokenRateThrottle(_SettingsRateThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        return self.cache_format % {"scope": self.scope, "ident": token.pk} if token else None


class IpRateThrottle(_SettingsRateThrottle):
    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "-"}


class RunStartThrottle(TokenRateThrottle):
    """Added by the views that start eval runs, on top of the others."""

    scope = "run_start"


# --- Failed tokens, per address (before any token is looked up)


def _failure_key(request) -> str:
    return f"throttle_auth_fail_{client_ip(request) or '-'}"


def refuse_if_failing_too_often(request) -> None:
    limit, window = SimpleRateThrottle.parse_rate(None, settings.API_AUTH_FAILURES_PER_IP)
    history = [t for t in cache.get(_failure_key(request), []) if t > time.time() - window]
    if len(history) >= limit:
        wait = max(1, round(history[0] + window - time.time()))
        raise Throttled(
            wait=wait,
            detail=(
                f"Too many requests with a wrong token from your address ({limit} every "
                f"{_period(window)}). Try again in {wait} s."
            ),
        )


def auth_failed(request) -> None:
    limit, window = SimpleRateThrottle.parse_rate(None, settings.API_AUTH_FAILURES_PER_IP)
    now = time.time()
    history = [t for t in cache.get(_failure_key(request), []) if t > now - window]
    cache.set(_failure_key(request), [*history[-limit:], now], timeout=window)

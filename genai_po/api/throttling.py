"""API rate limits, counted in the shared cache (Redis in the full stack, the file cache in
the embedded mode), so every web process sees the same numbers.

- per token: every call of an organization's token (`API_RATE_PER_TOKEN`);
- per address: every call from one client address, whatever the token (`API_RATE_PER_IP`);
- run starts: starting eval runs, lower, per token (`API_RATE_RUN_STARTS`);
- failed tokens: wrong, expired or revoked tokens from one address
  (`API_AUTH_FAILURES_PER_IP`), checked before the token is even looked up.

An exceeded limit answers 429 with `Retry-After` and a JSON message. Counts are kept
in fixed windows (a minute for "/minute") by an atomic increment, so a burst of
concurrent requests cannot pass the limit (a client may get up to twice the rate across
a window's edge).
"""

import math

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from genai_po import counters
from genai_po.actors import client_ip

SCOPE_SETTINGS = {
    "token": "API_RATE_PER_TOKEN",
    "ip": "API_RATE_PER_IP",
    "run_start": "API_RATE_RUN_STARTS",
    "knowledge_search": "API_RATE_KNOWLEDGE_SEARCH",
}
_WHAT = {
    "token": "this token",
    "ip": "your address",
    "run_start": "this token's run starts",
    "knowledge_search": "this token's knowledge searches",
}


class _SettingsRateThrottle(BaseThrottle):
    """A rate read from the settings at each request (so it can be changed by environment),
    counted in fixed windows with an atomic increment: concurrent requests cannot slip
    past the limit (genai_po.counters)."""

    scope = ""

    def get_cache_key(self, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view):
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, window = SimpleRateThrottle.parse_rate(
            None, getattr(settings, SCOPE_SETTINGS[self.scope])
        )
        hits, left = counters.window_hit(f"throttle_{key}", window)
        if hits <= limit:
            return True
        wait = max(1, math.ceil(left))
        raise Throttled(
            wait=wait,
            detail=(
                f"Too many requests: {_WHAT[self.scope]} may make {limit} every "
                f"{_period(window)}. Try again in {wait} s."
            ),
        )


def _period(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} s")


class TokenRateThrottle(_SettingsRateThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        return f"{self.scope}_{token.pk}" if token else None


class IpRateThrottle(_SettingsRateThrottle):
    scope = "ip"

    def get_cache_key(self, request, view):
        return f"{self.scope}_{client_ip(request) or '-'}"


class RunStartThrottle(TokenRateThrottle):
    """Added by the views that start eval runs, on top of the others."""

    scope = "run_start"


class KnowledgeSearchThrottle(TokenRateThrottle):
    """The knowledge search API's only limit: per token, high (an AI system calls it for
    every question), in place of the token and address limits."""

    scope = "knowledge_search"


# --- Failed tokens, per address (before any token is looked up)


def _failure_key(request) -> str:
    return f"throttle_auth_fail_{client_ip(request) or '-'}"


def refuse_if_failing_too_often(request) -> None:
    limit, window = SimpleRateThrottle.parse_rate(None, settings.API_AUTH_FAILURES_PER_IP)
    failures, left = counters.window_count(_failure_key(request), window)
    if failures >= limit:
        wait = max(1, math.ceil(left))
        raise Throttled(
            wait=wait,
            detail=(
                f"Too many requests with a wrong token from your address ({limit} every "
                f"{_period(window)}). Try again in {wait} s."
            ),
        )


def auth_failed(request) -> None:
    _, window = SimpleRateThrottle.parse_rate(None, settings.API_AUTH_FAILURES_PER_IP)
    counters.window_hit(_failure_key(request), window)

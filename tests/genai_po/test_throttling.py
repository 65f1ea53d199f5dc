"""API limits: per token, per address, lower for run starts, and for wrong tokens from one
address; an exceeded limit answers 429 with Retry-After and a JSON message."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from genai_po.env import env_rate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_inside_one_window(monkeypatch):
    """Limits count in fixed windows: the tests' requests all fall in one (a real clock
    could cross a minute's edge between two of them)."""
    from genai_po import counters

    monkeypatch.setattr(counters, "_now", lambda: 1_800_000_000.5)


def _api(raw: str | None, ip: str = "203.0.113.7") -> APIClient:
    api = APIClient(REMOTE_ADDR=ip)
    if raw:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def _assert_429(response, what: str) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["code"] == "throttled"
    assert body["message"].startswith(f"Too many requests: {what}") or what in body["message"]


def test_defaults_are_documented_values(settings):
    assert (settings.API_RATE_PER_TOKEN, settings.API_RATE_PER_IP) == ("600/minute", "1200/minute")
    assert (settings.API_RATE_RUN_STARTS, settings.API_AUTH_FAILURES_PER_IP) == (
        "60/minute", "20/minute",
    )  # fmt: skip


def test_a_token_is_limited_and_another_token_is_not(settings, org_a, token_factory):
    settings.API_RATE_PER_TOKEN = "5/minute"
    _, first = token_factory(org_a, scopes=["read"])
    _, second = token_factory(org_a, scopes=["read"])
    api = _api(first)
    assert [api.get("/api/v1/me/").status_code for _ in range(5)] == [200] * 5
    _assert_429(api.get("/api/v1/me/"), "this token may make 5 every minute")
    assert _api(second, ip="203.0.113.8").get("/api/v1/me/").status_code == 200


def test_one_address_is_limited_whatever_the_token(settings, org_a, token_factory):
    settings.API_RATE_PER_IP = "6/minute"
    tokens = [token_factory(org_a, scopes=["read"])[1] for _ in range(2)]
    statuses = [_api(tokens[i % 2]).get("/api/v1/me/").status_code for i in range(7)]
    assert statuses == [200] * 6 + [429]
    assert _api(tokens[0], ip="198.51.100.1").get("/api/v1/me/").status_code == 200


def test_run_starts_have_their_own_lower_limit(settings, org_a, token_factory):
    from tests.factories.evals import EvalPlanFactory, make_case

    settings.API_RATE_RUN_STARTS = "2/minute"
    plan = EvalPlanFactory(use_case__organization=org_a)
    make_case(org_a, plan)
    _, raw = token_factory(org_a, scopes=["read", "evals:run"])
    api = _api(raw)
    statuses = [api.post(f"/api/v1/eval-plans/{plan.pk}/runs/", {}, format="json").status_code
                for _ in range(3)]  # fmt: skip
    assert statuses == [202, 202, 429]
    assert api.get(f"/api/v1/eval-plans/{plan.pk}/").status_code == 200  # reads go on


def test_wrong_tokens_from_one_address_are_refused_before_lookup(settings, org_a, token_factory):
    settings.API_AUTH_FAILURES_PER_IP = "4/minute"
    statuses = [_api(f"gpo_wrong{i}").get("/api/v1/me/").status_code for i in range(4)]
    assert statuses == [401] * 4
    _, good = token_factory(org_a, scopes=["read"])
    response = _api(good).get("/api/v1/me/")
    _assert_429(response, "Too many requests with a wrong token from your address")
    assert _api(good, ip="198.51.100.2").get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("raw", ["600", "600/week", "0/minute", "x/minute", "600/ minute"])
def test_a_malformed_rate_stops_the_boot(monkeypatch, raw):
    monkeypatch.setenv("API_RATE_PER_TOKEN", raw)
    with pytest.raises(ImproperlyConfigured, match="API_RATE_PER_TOKEN must be"):
        env_rate("API_RATE_PER_TOKEN", "600/minute")


@pytest.mark.django_db(transaction=True)  # the threads read the token from the database
def test_concurrent_requests_cannot_pass_the_token_limit(settings, org_a, token_factory):
    """The count is one atomic increment: 40 requests at once, on 16 threads, get exactly
    the limit's worth of 200s."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    settings.API_RATE_PER_TOKEN = "10/minute"
    _, raw = token_factory(org_a, scopes=["read"])

    def call(_):
        try:
            return _api(raw).get("/api/v1/me/").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(call, range(40)))
    assert sorted(statuses) == [200] * 10 + [429] * 30

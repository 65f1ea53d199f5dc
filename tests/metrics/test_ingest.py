"""Telemetry ingestion through the API: valid events stored in bulk, invalid ones reported
one by one (207), nothing counted twice, and nothing crosses organizations."""

import gzip
import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from metrics import ingest, ingest_sql
from metrics.models import TelemetryEvent
from tests.factories.usecases import UseCaseFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/telemetry/events/"


@pytest.fixture
def sender(org_a, token_factory):
    _, raw = token_factory(org_a, scopes=["telemetry:write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def event(uc, n, **data):
    return {
        "event_id": f"evt-{n}",
        "use_case": uc.key,
        "occurred_at": (timezone.now() - timedelta(minutes=n)).isoformat(),
        "type": "interaction",
        "outcome": "success",
        "user": f"u{n % 7}",
        "latency_ms": 800 + n,
        "tokens_in": 120,
        "tokens_out": 80,
        "cost": 0.0021,
        **data,
    }


def post(api, events, **extra):
    return api.post(URL, json.dumps({"events": events}), content_type="application/json", **extra)


def test_a_batch_is_stored_and_a_resent_batch_counts_once(sender, org_a):
    uc = UseCaseFactory(organization=org_a)
    batch = [event(uc, n) for n in range(50)]
    response = post(sender, batch)
    assert response.status_code == 200
    assert response.json() == {"accepted": 50, "duplicates": 0, "rejected": []}
    again = post(sender, batch + [event(uc, 50), event(uc, 50)])
    assert again.json() == {"accepted": 1, "duplicates": 51, "rejected": []}
    assert TelemetryEvent.objects.for_org(org_a).count() == 51
    row = TelemetryEvent.objects.for_org(org_a).get(event_id="evt-3")
    assert (row.use_case_id, row.latency_ms, row.outcome, row.source) == (
        uc.pk, 803, "success", "api"
    )  # fmt: skip


def test_invalid_events_are_reported_one_by_one_and_the_valid_ones_kept(sender, org_a, org_b):
    uc = UseCaseFactory(organization=org_a)
    other = UseCaseFactory(organization=org_b)
    batch = [
        event(uc, 0),
        event(uc, 1, type="click"),
        event(other, 2),  # another organization's use case, by key
        {**event(uc, 3), "use_case": other.pk},  # and by id
        event(uc, 4, occurred_at="yesterday"),
        event(uc, 5, occurred_at=(timezone.now() + timedelta(days=1)).isoformat()),
        event(uc, 6, latency_ms=-1),
        event(uc, 7, colour="red"),
        event(uc, 8, output="x" * 20_001),
        event(uc, 9, flags=["boring"]),
        event(uc, 10, metadata={"a": {"b": {"c": {"d": {"e": 1}}}}}),
        "not an event",
        event(uc, 12, event_id="a\x00b"),
        event(uc, 13, cost=float("inf")) if False else event(uc, 13, tokens_in=2**40),
        event(uc, 14, knowledge_ids=["KB-1", "KB-x"]),
        event(uc, 15, flags=["hallucination", "unsafe"], knowledge_ids=["KB-4", 2]),
        event(uc, 16, output="half a pair \ud800"),
        event(uc, 17, event_id="evt-\udfff"),
    ]
    response = post(sender, batch)
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    rejected = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17]
    assert "lone surrogate" in rejected[16] and body["rejected"][-1]["event_id"] is None
    assert "type must be one of" in rejected[1]
    assert rejected[2] == rejected[3] == "use_case is not a use case of this organization"
    assert "ISO 8601" in rejected[4] and "future" in rejected[5]
    assert "unknown field 'colour'" in rejected[7] and "20,001 characters" in rejected[8]
    assert body["rejected"][0]["event_id"] == "evt-1"
    flagged = TelemetryEvent.objects.for_org(org_a).get(event_id="evt-15")
    assert (flagged.hallucination, flagged.unsafe, flagged.unsupported_claim) == (
        True, True, False
    )  # fmt: skip
    assert flagged.knowledge_numbers == [2, 4]
    assert not TelemetryEvent.objects.for_org(org_b).exists()


def test_an_email_is_stored_as_its_hash(sender, org_a):
    uc = UseCaseFactory(organization=org_a)
    post(sender, [event(uc, 1, user="Ana@Example.com"), event(uc, 2, user="agent-17")])
    refs = dict(TelemetryEvent.objects.for_org(org_a).values_list("event_id", "user_ref"))
    digest = hashlib.sha256(b"ana@example.com").hexdigest()[:40]
    assert refs == {"evt-1": f"sha256:{digest}", "evt-2": "agent-17"}


def test_limits_of_a_batch(sender, org_a, settings):
    uc = UseCaseFactory(organization=org_a)
    too_many = post(sender, [event(uc, n) for n in range(ingest.MAX_EVENTS + 1)])
    assert too_many.status_code == 400 and "at most 5,000 events" in str(too_many.json())
    huge = sender.post(URL, b"x" * (ingest.MAX_BYTES + 1), content_type="application/json")
    assert huge.status_code == 413
    packed = gzip.compress(json.dumps({"events": [event(uc, 1)]}).encode())
    ok = sender.post(URL, packed, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    bomb = gzip.compress(b" " * (ingest.MAX_BYTES + 10))
    response = sender.post(URL, bomb, content_type="application/json",
                           HTTP_CONTENT_ENCODING="gzip")  # fmt: skip
    assert response.status_code == 413
    brotli = sender.post(URL, b"{}", content_type="application/json", HTTP_CONTENT_ENCODING="br")
    assert brotli.status_code == 415
    for body in (b"not json", b'{"events": {}}', b'{"events": [], "more": 1}', b"[" * 10_000):
        response = sender.post(URL, body, content_type="application/json")
        assert response.status_code == 400, body[:20]
    assert TelemetryEvent.objects.for_org(org_a).count() == 1


def test_only_a_telemetry_token_sends(org_a, token_factory):
    uc = UseCaseFactory(organization=org_a)
    _, raw = token_factory(org_a, scopes=["read", "write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = post(api, [event(uc, 1)])
    assert response.status_code == 403 and "telemetry:write" in response.json()["message"]
    assert not TelemetryEvent.objects.for_org(org_a).exists()


def test_a_copy_that_races_another_keeps_only_the_new_rows(org_a):
    uc = UseCaseFactory(organization=org_a)
    ingest.ingest(org_a.pk, [event(uc, 1)])
    rows = [ingest._checked(event(uc, n), timezone.now()) for n in (1, 2, 3)]
    for row in rows:
        row.pop("use_case_ref")
        row.update(
            use_case_id=uc.pk, received_at=timezone.now(), source="api", knowledge_matched=False
        )
    # The pre-check missed evt-1 (another request stored it meanwhile): COPY hits the key.
    assert ingest_sql.copy_rows(org_a.pk, rows) == 2
    assert TelemetryEvent.objects.for_org(org_a).count() == 3


def test_odd_digits_huge_numbers_and_nul_reject_their_event_only(sender, org_a):
    uc = UseCaseFactory(organization=org_a)
    huge = "9" * 5000  # past what Python parses by default (4,300 digits)
    body = json.dumps({"events": [event(uc, 0), {**event(uc, 1), "use_case": "²"},
                                  {**event(uc, 2), "use_case": "UC-²"},
                                  event(uc, 3, knowledge_ids=["KB-²"]),
                                  event(uc, 4, occurred_at="2026-12-01T00:00:00Z\x00junk"),
                                  event(uc, 5, metadata={"a": {"b": {"c": {"d": {"e": 1}}}}}),
                                  event(uc, 6, tokens_in=0)]})  # fmt: skip
    body = body.replace('"tokens_in": 0', f'"tokens_in": {huge}')
    response = sender.post(URL, body, content_type="application/json")
    assert response.status_code == 207, response.content[:300]
    rejected = {r["index"]: r["reason"] for r in response.json()["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6]
    assert rejected[1] == rejected[2] == "use_case is not a use case of this organization"
    assert rejected[3] == "knowledge_ids are KB keys (KB-12) or their numbers"
    assert "ISO 8601" in rejected[4]
    assert "deeper than 4 levels" in rejected[5] and "whole number" in rejected[6]
    assert list(TelemetryEvent.objects.for_org(org_a).values_list("event_id", flat=True)) == [
        "evt-0"
    ]


def test_long_user_references_stay_apart(sender, org_a):
    uc = UseCaseFactory(organization=org_a)
    first, second = "u" * 200 + "1", "u" * 200 + "2"
    assert post(sender, [event(uc, 1, user=first), event(uc, 2, user=second)]).status_code == 200
    refs = set(TelemetryEvent.objects.for_org(org_a).values_list("user_ref", flat=True))
    assert len(refs) == 2 and all(r.startswith("sha256:") and len(r) <= 128 for r in refs)


def test_only_json_in_utf8_and_one_whole_gzip_stream(sender, org_a):
    uc = UseCaseFactory(organization=org_a)
    body = json.dumps({"events": [event(uc, 1)]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = sender.post(URL, body, content_type=content_type)
        assert response.status_code == 415 and "application/json" in response.json()["message"]
    response = sender.post(URL, body.encode("utf-16"), content_type="application/json")
    assert response.status_code == 400
    junk = gzip.compress(body.encode()) + b"trailing junk"
    response = sender.post(URL, junk, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400 and "gzip" in response.json()["message"]
    assert not TelemetryEvent.objects.for_org(org_a).exists()
    response = sender.post(
        URL, gzip.compress(body.encode()), content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )  # fmt: skip
    assert response.status_code == 200

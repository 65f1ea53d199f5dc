"""The metrics writes people make hold under bursts and odd input: the first write of a row
raced by others, a partial update, a use case that is not there."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from genai_po.actors import Actor
from metrics import services
from metrics.models import AlertRule, BusinessMetricReading, ValueAssumptions
from tests.factories.usecases import UseCaseFactory

BURST = 12


def _burst(work):
    def run(n):
        try:
            return work(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(run, range(BURST)))


@pytest.mark.django_db(transaction=True)  # the threads write through their own connections
def test_first_writes_raced_by_a_burst_keep_one_row_and_give_no_error(org_a):
    uc = UseCaseFactory(organization=org_a, metric_name="Handling time")
    actor = Actor.system(organization=org_a, label="burst")
    day = timezone.localdate()

    _burst(
        lambda n: services.reading_record(
            actor=actor, use_case=uc, data={"measured_on": day, "value": Decimal(n)}
        )
    )
    assert BusinessMetricReading.objects.for_org(org_a).count() == 1

    for use_case in (uc, None):
        _burst(
            lambda n, use_case=use_case: services.assumptions_save(
                actor=actor, use_case=use_case, data={"loaded_hourly_cost": Decimal(40 + n)}
            )
        )
    assert ValueAssumptions.objects.for_org(org_a).count() == 2

    rules = _burst(
        lambda n: services.rule_save(
            actor=actor,
            data={
                "use_case": uc,
                "metric": "error_rate",
                "condition": "above",
                "threshold": Decimal(5),
                "window_hours": 24,
                "min_interactions": 1,
                "action": "notify",
                "enabled": True,
            },
        )
    )
    assert sorted(r.number for r in rules) == list(range(1, BURST + 1))
    assert AlertRule.objects.for_org(org_a).count() == BURST


@pytest.mark.django_db
def test_a_use_case_s_first_figures_start_from_the_organization_s(api_a, org_a):
    uc = UseCaseFactory(organization=org_a)
    base = "/api/v1/metrics/assumptions/"
    assert (
        api_a.put(
            base,
            {
                "currency": "USD",
                "loaded_hourly_cost": "60",
                "sme_hourly_cost": "75",
                "minutes_saved_per_success": "3",
            },
            format="json",
        ).status_code
        == 200
    )
    own = api_a.put(f"{base}?use_case={uc.pk}", {"loaded_hourly_cost": "50"}, format="json")
    assert own.status_code == 200
    body = own.json()
    assert (body["currency"], body["loaded_hourly_cost"]) == ("USD", "50.00")
    assert (body["sme_hourly_cost"], body["minutes_saved_per_success"]) == ("75.00", "3.00")


@pytest.mark.django_db
def test_odd_currencies_and_dates_are_refused(api_a, org_a):
    uc = UseCaseFactory(organization=org_a, metric_name="Handling time")
    bad = api_a.put("/api/v1/metrics/assumptions/", {"currency": "ÉÜR"}, format="json")
    assert bad.status_code == 400 and "three letters" in bad.content.decode()
    old = api_a.post(
        "/api/v1/metrics/readings/",
        {"use_case": uc.pk, "value": 1, "measured_on": "1900-01-01"},
        format="json",
    )
    assert old.status_code == 400 and "2000" in old.content.decode()
    assert not BusinessMetricReading.objects.for_org(org_a).exists()
    assert not ValueAssumptions.objects.for_org(org_a).exists()


@pytest.mark.django_db
def test_the_assumptions_of_a_use_case_that_is_not_there_are_a_404(client, org_a, org_b, po):
    theirs = UseCaseFactory(organization=org_b)
    client.force_login(po.user)
    form = {
        "currency": "EUR",
        "loaded_hourly_cost": "11",
        "minutes_saved_per_success": "1",
        "other_value_per_month": "0",
        "sme_hourly_cost": "1",
        "sme_minutes_per_answer": "1",
    }
    for ref in ("999", "abc", "²", str(theirs.number)):
        url = f"/o/{org_a.slug}/metrics/assumptions/?use_case={ref}"
        assert client.post(url, form).status_code == 404, ref
        assert client.get(url).status_code == 404, ref
    assert not ValueAssumptions.objects.for_org(org_a).exists()

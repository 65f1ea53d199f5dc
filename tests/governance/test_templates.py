"""Checklist templates: the organization's own manual items and reviewer roles, always with
every automatic item; a release copies its template, so editing one changes no release."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from governance.checks import AUTOMATIC_CHECKS
from governance.models import ChecklistTemplate
from governance.services import templates as services
from governance.templates import template_for
from tests.factories.governance import make_release
from tests.factories.usecases import UseCaseFactory
from tests.governance.conftest import actor_of

pytestmark = pytest.mark.django_db

ITEMS = [
    {"category": "Risk", "text": "A red-team exercise found nothing open",
     "reviewer_role": "security"},
    {"category": "", "text": "Legal approved the disclaimer", "reviewer_role": "legal"},
]  # fmt: skip


def test_a_template_keeps_every_automatic_item_and_its_own_manual_ones(org_a, member_factory):
    admin = member_factory(org_a, "admin")
    template = services.template_save(
        actor=actor_of(admin), organization=org_a, template=None, name="High-risk release",
        reviewer_roles=["legal", "security"], items=ITEMS,
    )  # fmt: skip
    keys = [i["key"] for i in template.items]
    assert keys[: len(AUTOMATIC_CHECKS)] == list(AUTOMATIC_CHECKS)
    assert keys[len(AUTOMATIC_CHECKS) :] == [
        "a_red_team_exercise_found_nothing_open", "legal_approved_the_disclaimer"
    ]  # fmt: skip
    assert template.reviewer_roles == ["security", "legal"]  # in the roles' order
    assert template.items[-1]["category"] == "Readiness"
    release = make_release(org_a, UseCaseFactory(organization=org_a), template_id=template.pk)
    assert release.items.filter(kind="manual").count() == 2
    # Editing the template changes no release already made.
    services.template_save(
        actor=actor_of(admin), organization=org_a, template=template, name="High-risk release",
        reviewer_roles=["legal"], items=ITEMS[:1],
    )  # fmt: skip
    assert release.items.filter(kind="manual").count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": " "}, "name"),
        ({"reviewer_roles": []}, "reviewer_roles"),
        ({"reviewer_roles": ["janitor"]}, "reviewer_roles"),
        ({"items": []}, "items"),
        ({"items": [{"text": "x" * 501}]}, "items"),
        ({"items": [{"text": "ok", "reviewer_role": "janitor"}]}, "items"),
        ({"items": [{"text": "a\x00b"}]}, "items"),
        ({"items": [{"text": f"Item {n}"} for n in range(41)]}, "items"),
        ({"items": "everything"}, "items"),
    ],
)
def test_a_bad_template_is_refused_on_its_field(org_a, member_factory, change, field):
    admin = member_factory(org_a, "admin")
    data = {"name": "T", "reviewer_roles": ["legal"], "items": ITEMS, **change}
    with pytest.raises(ValidationError) as caught:
        services.template_save(actor=actor_of(admin), organization=org_a, template=None, **data)
    assert field in caught.value.message_dict
    assert not ChecklistTemplate.objects.for_org(org_a).exists()


def test_one_default_the_default_stays_and_names_are_unique(org_a, member_factory):
    admin = actor_of(member_factory(org_a, "admin"))
    default = template_for(org_a)
    mine = services.template_save(
        actor=admin, organization=org_a, template=None, name="Mine", reviewer_roles=["legal"],
        items=ITEMS, is_default=True,
    )  # fmt: skip
    default.refresh_from_db()
    assert mine.is_default and not default.is_default
    assert template_for(org_a) == mine
    with pytest.raises(ValidationError, match="another one the default"):
        services.template_delete(actor=admin, template=mine)
    with pytest.raises(ValidationError, match="another template the default"):
        services.template_save(actor=admin, organization=org_a, template=mine, name="Mine",
                               reviewer_roles=["legal"], items=ITEMS, is_default=False)  # fmt: skip
    with pytest.raises(ValidationError, match="Another template has this name"):
        services.template_save(actor=admin, organization=org_a, template=None, name="Mine",
                               reviewer_roles=["legal"], items=ITEMS)  # fmt: skip
    services.template_delete(actor=admin, template=default)
    assert list(ChecklistTemplate.objects.for_org(org_a)) == [mine]


def test_only_owners_and_admins_change_templates(org_a, po):
    with pytest.raises(PermissionDenied):
        services.template_save(actor=actor_of(po), organization=org_a, template=None, name="T",
                               reviewer_roles=["legal"], items=ITEMS)  # fmt: skip


def test_the_editor_keeps_what_was_typed_on_an_error_and_saves(client, org_a, member_factory, po):
    admin = member_factory(org_a, "admin")
    client.force_login(admin.user)
    base = f"/o/{org_a.slug}/governance/templates/"
    page = client.get(base + "new/?from=default").content.decode()
    assert "Copy of Default release checklist" in page and "Risk review done" in page
    data = {"name": "Pilot", "reviewer_roles": ["legal"], "key": ["", ""],
            "category": ["Risk", ""], "text": ["", "Pilot users briefed"],
            "reviewer_role": ["", "business_owner"]}  # fmt: skip
    data["text"][0] = "x" * 501
    response = client.post(base + "new/", data)
    assert response.status_code == 400
    assert "Item 1: at most 500 characters." in response.content.decode()
    assert "Pilot users briefed" in response.content.decode()
    data["text"][0] = "Risk accepted by the owner"
    response = client.post(base + "new/", data)
    assert response.status_code == 302
    template = ChecklistTemplate.objects.for_org(org_a).get(name="Pilot")
    client.force_login(po.user)
    page = client.get(base + f"{template.pk}/").content.decode()
    assert "Pilot users briefed" in page and "Owners and admins change templates" in page
    assert client.post(base + f"{template.pk}/", data).status_code == 403


def test_a_second_default_is_impossible_in_the_database(org_a):
    from django.db import IntegrityError, transaction

    template_for(org_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistTemplate.objects.create(organization=org_a, name="Two", is_default=True)


def test_a_refused_save_shows_its_errors_as_sentences(client, org_a, member_factory):
    client.force_login(member_factory(org_a, "admin").user)
    default = template_for(org_a)
    response = client.post(
        f"/o/{org_a.slug}/governance/templates/new/",
        {"name": default.name, "reviewer_roles": ["legal"], "text": ["Item"], "category": [""],
         "key": [""], "reviewer_role": [""]},
    )  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 400 and "Another template has this name." in page
    assert "(&#x27;name&#x27;" not in page and "('name'" not in page


@pytest.mark.django_db(transaction=True)
def test_concurrent_default_saves_leave_one_default_and_no_error(org_a, member_factory):
    import threading
    import time

    from django.db import connection, transaction

    from governance.models import GovernanceSettings
    from governance.services.common import settings_of

    admin = actor_of(member_factory(org_a, "admin"))
    template_for(org_a)
    settings_of(org_a)
    failures = []

    def save(n: int) -> None:
        try:
            services.template_save(actor=admin, organization=org_a, template=None,
                                   name=f"T{n}", reviewer_roles=["legal"], items=ITEMS,
                                   is_default=True)  # fmt: skip
        except Exception as exc:  # reported below
            failures.append(repr(exc))
        finally:
            connection.close()

    def waiters() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' "
                'AND query LIKE \'SELECT "governance_governancesettings"."id"%\''
            )
            return cursor.fetchone()[0]

    threads = [threading.Thread(target=save, args=(n,)) for n in range(3)]
    try:
        with transaction.atomic():
            GovernanceSettings.objects.for_org(org_a).select_for_update().get()
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            while waiters() < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert waiters() == 3
    finally:
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert ChecklistTemplate.objects.for_org(org_a).filter(is_default=True).count() == 1
    assert ChecklistTemplate.objects.for_org(org_a).count() == 4

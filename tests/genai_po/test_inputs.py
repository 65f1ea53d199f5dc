"""The limits on what a request may hold, and how each is told to the user."""

import pytest
from rest_framework.test import APIClient

from genai_po import inputs
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Role
from usecases.models import UseCase


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, inputs.DEPTH_MESSAGE),
        ("[" * 40 + "]" * 40, inputs.DEPTH_MESSAGE),
        ('{"a": "x\\u0000y"}', inputs.NUL_MESSAGE),
        ('{"a\\u0000": 1}', inputs.NUL_MESSAGE),
        (f'{{"a": {2**64}}}', inputs.RANGE_MESSAGE),
        (f"[{'9' * 5000}]", inputs.RANGE_MESSAGE),
        ('{"a": 1e999}', "Numbers must be finite."),
        ('{"a": NaN}', "NaN is not a number JSON accepts."),
        # A lone surrogate: no database and no UTF-8 answer can hold it, at any depth.
        ('{"k": {"v": "\\ud800"}}', inputs.SURROGATE_MESSAGE),
        ('{"\\udfff": 1}', inputs.SURROGATE_MESSAGE),
        ('[["x\\ud800y"]]', inputs.SURROGATE_MESSAGE),
    ],
)
def test_json_that_nothing_can_hold_is_refused_with_the_reason(text, message):
    with pytest.raises(inputs.InputRefused) as exc:
        inputs.loads(text)
    assert str(exc.value) == message


def test_ordinary_json_passes():
    assert inputs.loads('{"a": [1, 2.5, "x", null, true], "b": {"c": -9223372036854775808}}')


@pytest.mark.parametrize("value", ["", "abc", "-1", "1" * 19, None])
def test_ids_outside_any_row_are_none(value):
    assert inputs.id_or_none(value) is None


@pytest.mark.django_db
def test_a_55000_character_problem_is_refused_on_the_field_and_nothing_is_written(
    client, org_a, member_factory, token_factory
):
    po = member_factory(org_a, Role.PRODUCT_OWNER)
    client.force_login(po.user)
    form = client.get(f"/o/{org_a.slug}/use-cases/new/").content.decode()
    assert 'maxlength="5000"' in form and "At most 5,000 characters." in form

    response = client.post(
        f"/o/{org_a.slug}/use-cases/new/", {"title": "Long", "problem": "x" * 55_000,
                                            "risk_tier": "limited", "status": "proposed",
                                            "human_involvement": "user_decides"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Ensure this value has at most 5000 characters" in response.content.decode()

    _, raw = token_factory(org_a, scopes=["write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.post("/api/v1/use-cases/", {"title": "Long", "problem": "x" * 55_000},
                    format="json")  # fmt: skip
    assert body.status_code == 400
    assert "problem" in body.json()["errors"]
    assert not UseCase.objects.for_org(org_a).exists()


@pytest.mark.django_db
def test_the_audit_page_shows_the_start_of_a_long_value(client, org_a, member_factory):
    owner = member_factory(org_a, Role.OWNER)
    client.force_login(owner.user)
    audit_record(actor=Actor.system(organization=org_a, label="t"), action="long.value",
                 object_type="t", object_id="1", after={"text": "y" * 90_000})  # fmt: skip
    page = client.get(f"/o/{org_a.slug}/governance/audit/").content.decode()
    assert "y" * 300 + "… (90,000 characters)" in page
    assert "y" * 301 not in page


@pytest.mark.django_db
def test_a_requirement_key_beyond_any_number_is_refused_by_name(org_a):
    from django.core.exceptions import ValidationError

    from evals import services
    from tests.factories.evals import EvalPlanFactory

    plan = EvalPlanFactory(use_case__organization=org_a)
    huge = "REQ-" + "9" * 30
    actor = Actor.system(organization=org_a, label="t")
    data = {"prompt": "x", "requirement_keys": [huge, "REQ-2147483648"]}
    with pytest.raises(ValidationError) as exc:
        services.case_add(actor=actor, plan=plan, data=data)
    assert exc.value.message_dict == {
        "requirement_keys": [f"Not a requirement of this use case: {huge}, REQ-2147483648"]
    }


@pytest.mark.django_db
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_that_writes_nothing(org_a, token_factory):
    _, raw = token_factory(org_a, scopes=["read", "write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = '{"title": "Refunds", "extra": {"\\ud800": ["x\\udfff"]}}'
    response = api.post("/api/v1/use-cases/", body, content_type="application/json")
    assert response.status_code == 400
    assert inputs.SURROGATE_MESSAGE in response.json()["message"]
    assert not UseCase.objects.for_org(org_a).exists()

"""Helpers shared by the use-case service tests."""

from genai_po.actors import Actor
from genai_po.audit import chain_head_of
from genai_po.models import AuditEvent
from usecases.models import UseCase


def _actor(membership) -> Actor:
    return Actor.for_member(
        user=membership.user, organization=membership.organization, role=membership.role
    )


class Trail:
    """The audit events an organization gains after `mark()`."""

    def __init__(self, org):
        self.org = org
        self.mark()

    def mark(self) -> None:
        self.since = chain_head_of(self.org).seq

    def new(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.for_org(self.org).filter(seq__gt=self.since).order_by("seq"))

    def one(self) -> AuditEvent:
        events = self.new()
        assert len(events) == 1, [e.action for e in events]
        self.mark()
        return events[0]

    def assert_none(self) -> None:
        assert [e.action for e in self.new()] == []


def _fresh(use_case) -> UseCase:
    return UseCase.objects.for_org(use_case.organization_id).get(pk=use_case.pk)

"""What an organization's targets may reach besides the public internet (admins)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from evals.models import (
    EgressSettings,
)
from evals.netguard import EgressPolicy
from genai_po.actors import Actor
from genai_po.audit import audit_record
from genai_po.roles import Action


def egress_settings_of(organization) -> EgressSettings:
    settings_row = EgressSettings.objects.for_org(organization).first()
    return settings_row or EgressSettings(organization_id=getattr(organization, "pk", organization))


def egress_policy_for(organization) -> EgressPolicy:
    row = egress_settings_of(organization)
    return EgressPolicy(
        allow_private=row.allow_private,
        allow_loopback=row.allow_loopback,
        allowed_networks=tuple(row.allowed_networks or ()),
    )


def _clean_networks(values: Iterable[str]) -> list[str]:
    clean, bad = [], []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            clean.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError:
            bad.append(value)
    if bad:
        raise ValidationError(
            {"allowed_networks": f"Not a CIDR network (e.g. 10.20.0.0/16): {', '.join(bad)}"}
        )
    return sorted(set(clean))


def egress_update(
    *, actor: Actor, allow_loopback: bool, allow_private: bool, allowed_networks: Iterable[str]
) -> EgressSettings:
    """Org admins choose which non-public addresses targets may reach."""
    actor.require(Action.MANAGE_ORG)
    networks = _clean_networks(allowed_networks)
    with transaction.atomic():
        row, _ = EgressSettings.objects.for_org(actor.organization).get_or_create(
            organization=actor.organization
        )
        before = {
            "allow_loopback": row.allow_loopback,
            "allow_private": row.allow_private,
            "allowed_networks": row.allowed_networks,
        }
        row.allow_loopback, row.allow_private = bool(allow_loopback), bool(allow_private)
        row.allowed_networks = networks
        row.save()
        after = {
            "allow_loopback": row.allow_loopback,
            "allow_private": row.allow_private,
            "allowed_networks": networks,
        }
        audit_record(actor=actor, action="egress.update", obj=row, before=before, after=after)
    return row

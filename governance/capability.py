"""The capability card of a release: what the AI system can do, what it cannot do, and
when users should escalate and to whom (the guide's rollout advice, section 13).

Generated from the PRD and the release's HITL policy when the release goes to review,
so reviewers approve it with the release; shared with end users inside the organization.
"""

from __future__ import annotations

from usecases.models import Prd


def _lines(text: str) -> list[str]:
    """Bullet-worthy lines of a PRD section (list markers dropped)."""
    out = []
    for line in (text or "").splitlines():
        line = line.strip().lstrip("-*•").strip()
        if line:
            out.append(line)
    return out


def _md(text: str) -> str:
    """Text from users, made inert in Markdown's line syntax (the card is rendered through
    the sanitizer anyway)."""
    return text.replace("\r", " ").replace("\n", " ").strip()


def card_markdown(release) -> str:
    use_case = release.use_case
    prd = Prd.objects.for_org(release.organization_id).filter(use_case=use_case).first()
    section = prd.section if prd is not None else (lambda key: "")
    actions = release.hitl_policy.actions if release.hitl_policy_id else []
    alone = [a for a in actions if a["autonomy"] == "autonomous"]
    reviewed = [a for a in actions if a["autonomy"] == "human_review"]
    forbidden = [a for a in actions if a["autonomy"] == "forbidden"]
    owner = use_case.owner
    owner_name = owner.display_name if owner is not None else ""

    out = [f"## {_md(use_case.title)}: what the AI assistant can do", ""]
    out.append(
        f"Release {release.key} ({_md(release.name)}), risk tier "
        f"{release.get_risk_tier_display().lower()}, rollout: "
        f"{release.get_rollout_stage_display().lower()}."
    )
    out.append("")
    goal = _lines(section("user_goal"))
    if goal:
        out.append(f"Its purpose: {_md(' '.join(goal))}")
        out.append("")
    out.append("### What it can do")
    can = [f"- {_md(a['name'])}: {_md(a['description'] or a['reason'])}" for a in alone]
    can += [f"- Use {_md(line)}" for line in _lines(section("allowed_tools"))]
    out += can or ["- (The HITL policy lists no action it takes on its own yet.)"]
    if reviewed:
        out.append("")
        out.append("With a person's review first:")
        out += [f"- {_md(a['name'])}: {_md(a['reason'])}" for a in reviewed]
    out.append("")
    out.append("### What it cannot do")
    cannot = [f"- {_md(a['name'])}: {_md(a['reason'])}" for a in forbidden]
    cannot += [f"- {_md(line)}" for line in _lines(section("forbidden_actions"))]
    out += cannot or ["- (No forbidden action is written down yet.)"]
    out.append("")
    out.append("### When to escalate, and to whom")
    handoff = [f"- {_md(line)}" for line in _lines(section("handoff_rules"))]
    out += handoff or ["- When the answer looks wrong, incomplete or unsafe."]
    if owner_name:
        out.append(
            f"- Report a wrong or harmful answer to {_md(owner_name)}, the use case's owner."
        )
    out.append("")
    out.append("### What it knows")
    snapshot = release.knowledge_snapshot or []
    if snapshot:
        out.append(f"{len(snapshot)} validated knowledge item{'s' if len(snapshot) != 1 else ''}:")
        out += [f"- {k['key']} v{k['version']}: {_md(k.get('title', ''))}" for k in snapshot[:50]]
    else:
        out.append(
            "No validated knowledge item yet: check its answers against the sources you trust."
        )
    return "\n".join(out) + "\n"


def approval_line(release, gate) -> str:
    """Where the card stands, for the page and the export: a draft card is never mistaken
    for an approved one."""
    signed = [
        f"{r.sign_off.user_label} ({r.label.lower()}, {r.sign_off.created_at:%d %b %Y})"
        for r in gate.roles
        if r.sign_off is not None and not r.stale and r.sign_off.decision != "reject"
    ]
    status = release.get_status_display()
    if release.status in ("approved", "approved_with_conditions", "released") and signed:
        return f"**{status}**, signed off by {', '.join(signed)}."
    if release.status == "in_review":
        return "**In review**: not approved yet."
    return f"**{status}**: not an approved card."

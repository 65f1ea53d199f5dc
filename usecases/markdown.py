"""The AI PRD as a Markdown document: its sections, requirements table and readiness."""

from django.utils import timezone

from usecases.models import PRD_SECTIONS, PrdVersion, UseCase, VerificationKind
from usecases.selectors import Readiness


def _text(value) -> str:
    """User text as Markdown text: raw HTML in it is shown, never rendered (a Markdown viewer
    passes HTML through, so `<img onerror=…>` in a section would run where it is opened)."""
    return str(value or "").replace("<", "&lt;")  # no tag can open; `>` quotes stay


def _cell(text) -> str:
    """One table cell: no line breaks, pipes and backslashes escaped, no raw HTML."""
    text = " ".join(_text(text).split())
    return text.replace("\\", "\\\\").replace("|", "\\|") or "—"


def _person(user) -> str:
    return user.display_name if user is not None else "—"


def readiness_lines(readiness: Readiness) -> list[str]:
    if readiness.requirement_count == 0:
        return [
            "**Not ready**: no requirements yet. Write the expected behaviors as "
            "testable requirements."
        ]
    if readiness.ready:
        return [
            f"**Ready**: every launch-blocking requirement "
            f"({readiness.launch_blocking_count}) has a verification and an owner."
        ]
    lines = [
        f"**Not ready**: {len(readiness.unverified)} of "
        f"{readiness.launch_blocking_count} launch-blocking requirement"
        f"{'' if readiness.launch_blocking_count == 1 else 's'} cannot yet be "
        f"tested, monitored or reviewed by an owner.",
        "",
    ]
    lines += [f"- {r.key}: {', '.join(reasons)}" for r, reasons in readiness.unverified]
    return lines


def prd_markdown(
    *,
    use_case: UseCase,
    version: PrdVersion | None,
    sections: dict[str, str],
    requirements: list,
    readiness: Readiness,
) -> str:
    """The current PRD; `requirements` come from selectors.requirements_of (prefetched)."""
    out = [f"# {use_case.key} {_text(use_case.title)}: AI PRD", ""]
    if version is not None:
        out.append(
            f"Version {version.number}, saved {version.created_at:%Y-%m-%d %H:%M} UTC "
            f"by {_text(version.author_label)}: {_text(version.summary)}"
        )
    else:
        out.append("Not saved yet: no version.")
    out += [f"Exported {timezone.now():%Y-%m-%d %H:%M} UTC.", "", "## Readiness", ""]
    out += readiness_lines(readiness)
    for key, label in PRD_SECTIONS:
        text = _text(sections.get(key, "").strip())
        out += ["", f"## {label}", "", text or "_Not written yet._"]
    out += ["", "## Requirements", ""]
    if not requirements:
        out.append("_No requirements yet._")
    else:
        out += [
            "| Key | Statement | Type | Launch-blocking | Owner | Verification method "
            "| Status | Verified by |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in requirements:
            verified_by = "; ".join(
                f"{v.kind_label}: {v.name} ({_person(v.owner)})"
                if v.kind == VerificationKind.HUMAN_REVIEW or v.owner
                else f"{v.kind_label}: {v.name}"
                for v in r.verified_by
            )
            cells = [
                r.key,
                r.statement,
                r.get_type_display(),
                "yes" if r.launch_blocking else "no",
                _person(r.owner),
                r.get_verification_method_display(),
                r.get_status_display(),
                verified_by,
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"

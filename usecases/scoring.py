"""Prioritization: the weighted score of the six criteria, and why a use case ranks so."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, F, Value
from django.db.models.functions import Cast

from usecases.models import Criterion, PriorityWeights, UseCase, rubric_text

DEFAULT_WEIGHTS = {c.value: PriorityWeights._meta.get_field(c.value).default for c in Criterion}


def weights_of(organization) -> dict[str, int]:
    row = PriorityWeights.objects.for_org(organization).first()
    return row.as_dict() if row else dict(DEFAULT_WEIGHTS)


def priority_score(scores: dict[str, int | None], weights: dict[str, int]) -> Decimal | None:
    """Weighted mean of the six 1-5 scores; None until every criterion is scored."""
    if any(scores.get(c.value) is None for c in Criterion):
        return None
    total_weight = sum(weights[c.value] for c in Criterion)
    if total_weight == 0:
        return None
    weighted = sum(weights[c.value] * scores[c.value] for c in Criterion)
    return (Decimal(weighted) / Decimal(total_weight)).quantize(
        Decimal("0.001"), rounding=ROUND_HALF_UP
    )


def scores_of(use_case: UseCase) -> dict[str, int | None]:
    return {c.value: use_case.score_of(c.value) for c in Criterion}


def recompute_all(organization, weights: dict[str, int]) -> int:
    """Recompute every use case's score in one UPDATE after the weights changed."""
    total = sum(weights.values())
    use_cases = UseCase.objects.for_org(organization)
    if total == 0:
        return use_cases.update(priority_score=None)
    expression = sum((Value(weights[c.value]) * F(f"score_{c.value}") for c in Criterion), Value(0))
    # NULL in any score makes the sum NULL: unscored use cases stay unranked.
    # Divide in a wide decimal; the column then rounds to 3 places like priority_score().
    wide = DecimalField(max_digits=20, decimal_places=8)
    return use_cases.update(
        priority_score=Cast(expression, output_field=wide) / Value(Decimal(total), wide)
    )


@dataclass(frozen=True)
class Contribution:
    criterion: str
    label: str
    score: int | None
    weight: int
    share: Decimal  # of the final score, in score points
    rubric: str


def explain(use_case: UseCase, weights: dict[str, int], rank: int | None, ranked: int) -> dict:
    """'Why this rank': each criterion's score, weight and contribution, in words."""
    total_weight = sum(weights.values()) or 1
    parts = [
        Contribution(
            criterion=c.value,
            label=c.label,
            score=use_case.score_of(c.value),
            weight=weights[c.value],
            share=(
                Decimal(weights[c.value] * use_case.score_of(c.value)) / Decimal(total_weight)
            ).quantize(Decimal("0.01"))
            if use_case.score_of(c.value) is not None
            else Decimal(0),
            rubric=rubric_text(c),
        )
        for c in Criterion
    ]
    missing = [p.label for p in parts if p.score is None]
    if missing:
        summary = f"Not ranked: score {', '.join(_lower_first(m) for m in missing)} first."
    else:
        scored = sorted(parts, key=lambda p: p.share, reverse=True)
        strongest, weakest = scored[0], min(parts, key=lambda p: (p.score, -p.weight))
        summary = (
            f"Rank {rank} of {ranked} with {use_case.priority_score} out of 5. "
            f"Biggest contribution: {_lower_first(strongest.label)} ({strongest.score}/5 x "
            f"weight {strongest.weight}). Weakest: {_lower_first(weakest.label)} "
            f"({weakest.score}/5)."
        )
    return {"parts": parts, "summary": summary, "total_weight": total_weight}


def _lower_first(text: str) -> str:
    """'Available context sources or SMEs' -> 'available context sources or SMEs'."""
    return text[:1].lower() + text[1:]

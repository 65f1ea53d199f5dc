"""How the reference agent answers: from the knowledge items it is given (the
organization's published knowledge, fetched from the knowledge search API for each
question), by keyword match, with handoff rules. It knows nothing of its own.

Deterministic by construction: no randomness, no clock; the same question and the same
items give the same answer.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class KnowledgeItem:
    """One piece of published knowledge the agent may cite."""

    id: str  # "KB-12"
    title: str
    text: str
    keywords: tuple[str, ...] = ()  # the questions it answers, as search phrases
    source: str = ""  # "Refund policy"
    section: str = ""  # "3.2"

    @property
    def citation(self) -> str:
        if self.source and self.section:
            return f"{self.source} §{self.section} ({self.id})"
        return f"{self.title} ({self.id})"

    @classmethod
    def from_search_result(cls, result: dict) -> "KnowledgeItem":
        """An item of the knowledge search API's answer (`results[i]`)."""
        question = str(result.get("question") or "")
        return cls(
            id=str(result.get("key") or result.get("id") or ""),
            title=str(result.get("title") or ""),
            text=str(result.get("answer") or ""),
            keywords=tuple(part.strip() for part in question.split(",") if part.strip()),
        )


# Below this share of the question's terms found in the best item, the agent hands off.
MIN_COVERAGE = 0.34
# ... and it always needs at least this many matching terms.
MIN_MATCHES = 2
ORDER_LIMIT_EUR = 500

HANDOFF_PREFIX = "I'm handing this to a human agent"

_STOPWORDS = frozenset((
    "a", "about", "after", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "could", "did", "do", "does", "for", "from", "get", "got", "had", "has",
    "have", "hello", "hi", "how", "i", "if", "in", "is", "it", "its", "just", "me", "my",
    "need", "no", "not", "of", "on", "or", "our", "please", "so", "that", "the", "their",
    "them", "then", "there", "this", "to", "too", "us", "want", "was", "we", "what", "when",
    "where", "which", "who", "why", "will", "with", "would", "you", "your", "acme", "thanks",
    "thank", "hey", "still", "yet", "some", "one", "ok", "okay", "dear",
))  # fmt: skip
# "how" and "when" are stopwords on purpose: they would match nearly every question.

_CHARGEBACK = re.compile(r"\bcharge[\s-]?backs?\b|\bdisput(e|ed|ing)\b.*\b(bank|card)\b", re.I)
_LEGAL = re.compile(
    r"\b(legal action|lawyers?|attorneys?|sue|suing|lawsuit|court|solicitor)\b", re.I
)
# Whole euros of an amount ("1,200.50" -> "1,200"); cents never decide the 500 EUR rule.
_INT = r"\d{1,3}(?:[ ,.]\d{3})+(?!\d)|\d+"
_CENTS = r"(?:[.,]\d{1,2}(?!\d))?"
_EUR = re.compile(
    r"(?P<over>\b(?:over|above|more than|exceeding)\s+)?"
    rf"(?:€\s*(?P<a>{_INT}){_CENTS}|\beur\s*(?P<b>{_INT}){_CENTS}"
    rf"|(?P<c>{_INT}){_CENTS}\s*(?:€|eur\b|euros?\b))",
    re.I,
)


@dataclass(frozen=True)
class Reply:
    """The agent's answer to one question."""

    content: str
    handoff: bool
    handoff_reason: str | None  # chargeback | legal | order_over_limit | low_confidence
    citations: tuple[str, ...]
    confidence: float


def reply(question: str, items: Sequence[KnowledgeItem] = ()) -> Reply:
    """Answer `question` from `items`, or hand off to a human when a rule says so."""
    if _CHARGEBACK.search(question):
        return _handoff("chargeback", "the customer mentions a chargeback")
    if _LEGAL.search(question):
        return _handoff("legal", "legal action is mentioned")
    amount = _largest_eur_amount(question)
    if amount is not None and amount > ORDER_LIMIT_EUR:
        return _handoff("order_over_limit", f"the order is over {ORDER_LIMIT_EUR} EUR")
    item, coverage, matches = best_match(question, items)
    if item is None or matches < MIN_MATCHES or coverage < MIN_COVERAGE:
        return _handoff("low_confidence", "no policy section I know covers this question", coverage)
    return Reply(
        content=f"Per {item.citation}: {item.text}",
        handoff=False,
        handoff_reason=None,
        citations=(item.id,),
        confidence=round(coverage, 2),
    )


def best_match(
    question: str, items: Sequence[KnowledgeItem] = ()
) -> tuple[KnowledgeItem | None, float, int]:
    """The item sharing most terms with the question: (item, coverage 0..1, matches).

    Title and keyword hits weigh double; ties go to the earlier item, so the choice is
    stable. Coverage is the share of the question's terms the item contains.
    """
    terms = _terms(question)
    if not terms:
        return None, 0.0, 0
    best: tuple[float, int, KnowledgeItem | None] = (0.0, 0, None)
    for item in items:
        strong, weak = _item_terms(item)
        matched = terms & (strong | weak)
        score = 2 * len(terms & strong) + len(matched - strong)
        if score > best[0]:
            best = (score, len(matched), item)
    _, matches, item = best
    return item, matches / len(terms), matches


def count_tokens(text: str) -> int:
    """Tokens, as the reference agent counts them: whitespace-separated words."""
    return len(text.split())


def _handoff(reason: str, why: str, confidence: float = 0.0) -> Reply:
    content = (
        f"{HANDOFF_PREFIX} because {why}. A member of the support team will pick up "
        "this conversation; I can't decide this case myself."
    )
    return Reply(content, True, reason, (), round(confidence, 2))


@cache
def _item_terms(item: KnowledgeItem) -> tuple[frozenset[str], frozenset[str]]:
    """(title and keyword terms, text terms) of an item, computed once."""
    return frozenset(_terms(" ".join((item.title, *item.keywords)))), frozenset(_terms(item.text))


def _terms(text: str) -> set[str]:
    return {
        _stem(word)
        for word in re.findall(r"[a-z0-9]+", text.lower())
        if word not in _STOPWORDS and len(word) > 1
    }


def _stem(word: str) -> str:
    # Crude on purpose: drop a plural "s", keep six letters ("refunded" -> "refund",
    # "damaged" and "damage" -> "damage"). Enough for a dozen items; easy to predict.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6]


def _largest_eur_amount(text: str) -> float | None:
    amounts = []
    for match in _EUR.finditer(text):
        raw = match.group("a") or match.group("b") or match.group("c")
        value = float(re.sub(r"[ ,.]", "", raw))  # separators here are thousands
        # "over 500 EUR" means more than 500, which the limit rule must catch.
        amounts.append(value + 0.01 if match.group("over") else value)
    return max(amounts) if amounts else None

"""Redaction: no configured secret leaves in text that came back from an AI system.

A target or judge may echo what it was sent (an `Authorization` header in an error body,
a key in a debug page). Every string that comes back from one is passed through the
`Redactor` of its secrets before it is stored, audited, shown or exported. A secret is
found in the forms an echo takes: as sent, each credential part of a header value
(`Bearer sk-…` → `sk-…`), base64 (standard and URL-safe, at any alignment inside a longer
encoded text), URL-encoded and JSON-escaped.
"""

import base64
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

from django.views.decorators.debug import sensitive_variables

MASK = "••••"
MIN_SECRET_CHARS = 6  # shorter values (a header "1", "no-cache") are not worth masking
MIN_FRAGMENT_CHARS = 8  # a part of a value, or its encoded middle, must be this long


def _base64_fragments(value: bytes) -> set[str]:
    """What of base64(… + value + …) is fixed by `value` alone, at each of the three
    alignments a surrounding text can give it."""
    fragments = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value).decode()
        start = -(-8 * offset // 6)  # the first character made of `value`'s bits only
        end = (8 * (offset + len(value))) // 6  # the last one not touched by what follows
        middle = encoded[start:end]
        if len(middle) >= MIN_FRAGMENT_CHARS:
            fragments.add(middle)
            fragments.add(middle.replace("+", "-").replace("/", "_"))
    return fragments


@sensitive_variables("secret")
def _forms_of(secret: str) -> set[str]:
    forms = {secret}
    forms.update(part for part in secret.split() if len(part) >= MIN_FRAGMENT_CHARS)
    for text in list(forms):
        data = text.encode()
        forms.add(base64.b64encode(data).decode())
        forms.add(base64.urlsafe_b64encode(data).decode().rstrip("="))
        forms.update(_base64_fragments(data))
        forms.add(quote(text, safe=""))
        forms.add(quote_plus(text))
        forms.add(json.dumps(text)[1:-1])
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class Redactor:
    """Replaces every form of the given secrets with a mask."""

    __slots__ = ("_pattern",)

    @sensitive_variables("secrets")
    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret.strip()) >= MIN_SECRET_CHARS:
                forms |= _forms_of(secret.strip())
        # Longest first: a whole value goes before the parts it contains.
        ordered = sorted(forms, key=lambda form: (-len(form), form))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __repr__(self) -> str:
        return "Redactor(••••)"

    def redact(self, text):
        """The text with every form of every secret masked (None and "" pass as they are)."""
        if not text or self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


@lru_cache(maxsize=64)
def redactor_for(secrets: tuple[str, ...]) -> Redactor:
    """One compiled Redactor per set of secrets (a run calls its target thousands of times)."""
    return Redactor(secrets)

"""The keys that sign the audit trail (HMAC-SHA-256), read from the environment.

GENAI_PO_AUDIT_KEYS is a comma-separated list of `<key id>:<secret>` entries: the first
signs new events, every one verifies (each event records the id of the key that signed
it). Rotate by putting a new entry first and keeping the old ones: events are never
re-signed, so a key stays listed as long as events signed with it must be verified.

The keys live in the environment only, never in the database: someone who can write
rows cannot compute a valid digest for a forged event.
"""

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from genai_po.env import private_file_once

ENV_VAR = "GENAI_PO_AUDIT_KEYS"
MIN_SECRET_CHARS = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
GENERATE_HINT = (
    "python -c \"import secrets; print('k1:' + secrets.token_urlsafe(48))\" (the part before "
    "the colon is the key id)"
)


def parse_keys(raw: str) -> dict[str, bytes]:
    """{key id: secret}, in the order given (the first signs). Raises ValueError."""
    keys: dict[str, bytes] = {}
    for position, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, secret = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ValueError(
                f"entry {position} must be <key id>:<secret>, the id made of letters, digits, "
                "'.', '_' or '-' (at most 32)"
            )
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                f"the secret of key {key_id!r} must be at least {MIN_SECRET_CHARS} characters"
            )
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} is listed twice")
        keys[key_id] = secret.encode()
    return keys


def _development_keys(var_dir: Path) -> str:
    """A key kept in var/ so that `make run` verifies its own trail after a restart."""
    return private_file_once(
        var_dir / "audit_keys",
        lambda: f"dev-{secrets.token_hex(3)}:{secrets.token_urlsafe(48)}",
    )


def audit_keys_from_environment(
    *, production: bool, var_dir: Path, environ: Mapping[str, str] = os.environ
) -> dict[str, bytes]:
    """The configured audit keys; production refuses to start without them."""
    raw = environ.get(ENV_VAR, "").strip()
    prefix = "Refusing to start in production: " if production else ""
    if not raw:
        if production:
            raise ImproperlyConfigured(
                f"{prefix}{ENV_VAR} must be set to <key id>:<secret> (comma-separated, the "
                f"first signs the audit trail); make one with: {GENERATE_HINT}"
            )
        raw = _development_keys(var_dir)
    try:
        keys = parse_keys(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{prefix}{ENV_VAR}: {exc}.") from None  # no secret echoed
    if not keys:
        raise ImproperlyConfigured(
            f"{prefix}{ENV_VAR} holds no key; make one with: {GENERATE_HINT}"
        )
    return keys

"""Secrets at rest (API keys of AI targets): Fernet encryption with keys from the environment.

GENAI_PO_SECRETS_KEYS is a comma-separated list of Fernet keys: the first encrypts, every
one decrypts, so a key is rotated by putting a new one first, re-encrypting with `rotate`,
then removing the old one. Nothing here ever puts a key, a token or a plaintext in a message.
"""

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from genai_po.env import private_file_once

ENV_VAR = "GENAI_PO_SECRETS_KEYS"
GENERATE_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
MASK = "••••"
_MASK_MIN_LENGTH = 12  # shorter secrets show no characters at all


class SecretUnreadable(Exception):
    """No configured key decrypts a stored secret (a key was removed, or the value altered)."""


# --- Keys, read once when the settings load


def _invalid_key_positions(keys: Sequence[str]) -> list[int]:
    bad = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:  # bad base64 (binascii.Error), non-ASCII, or not 32 bytes
            bad.append(position)
    return bad


def _development_key(var_dir: Path) -> str:
    """A key kept in var/ so that `make run` reads its own secrets after a restart."""
    path = var_dir / "secrets_key"
    key = private_file_once(path, lambda: Fernet.generate_key().decode())
    if _invalid_key_positions([key]):
        raise ImproperlyConfigured(
            f"{path} does not hold a valid Fernet key; set {ENV_VAR} or restore the file "
            "(secrets saved with the lost key must be entered again)."
        )
    return key


def keys_from_environment(
    *, production: bool, var_dir: Path, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """The configured Fernet keys; refuses a missing key in production and any malformed key."""
    keys = [key.strip() for key in environ.get(ENV_VAR, "").split(",") if key.strip()]
    prefix = "Refusing to start in production: " if production else ""
    if not keys:
        if production:
            raise ImproperlyConfigured(
                f"{prefix}{ENV_VAR} must be set to a comma-separated list of Fernet keys "
                f"(the first encrypts, all decrypt); generate one with: {GENERATE_HINT}"
            )
        return [_development_key(var_dir)]
    bad = _invalid_key_positions(keys)
    if bad:
        which = ", ".join(str(position) for position in bad)
        raise ImproperlyConfigured(
            f"{prefix}{ENV_VAR} holds {len(keys)} key(s) and key(s) {which} are not valid "
            f"Fernet keys (32 url-safe base64-encoded bytes); generate one with: {GENERATE_HINT}"
        )
    return keys


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _fernet() -> MultiFernet:
    return _multifernet(tuple(settings.SECRETS_KEYS))


# --- Encrypting, decrypting, rotating, masking

_UNREADABLE = (
    f"This secret cannot be decrypted with the keys in {ENV_VAR}: the key that encrypted it "
    "was removed, or the stored value was altered. Enter the secret again."
)


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    """A Fernet token for `plaintext` under the first key (a new random IV each time)."""
    return _fernet().encrypt(plaintext.encode()).decode()


@sensitive_variables("token")
def decrypt(token: str) -> str:
    """The plaintext of a token made by `encrypt` with any configured key."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(_UNREADABLE) from None  # the token stays out of the traceback


@sensitive_variables("token")
def rotate(token: str) -> str:
    """The same secret re-encrypted under the first key, once it is the only one left."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(_UNREADABLE) from None


@sensitive_variables("plaintext")
def mask(plaintext: str) -> str:
    """For display: the last 4 characters of a secret of 12 or more, nothing of a shorter one."""
    if len(plaintext) >= _MASK_MIN_LENGTH:
        return MASK + plaintext[-4:]
    return MASK

"""A model field for secrets encrypted at rest, and the `Secret` value it gives back."""

import hmac

from django import forms
from django.core.exceptions import FieldError
from django.db import models
from django.db.models import lookups
from django.views.decorators.debug import sensitive_variables

from genai_po import secrets
from genai_po.secrets import MASK, SecretUnreadable

__all__ = ["EncryptedTextField", "Secret", "SecretUnreadable"]


class Secret:
    """A secret value that shows only a mask when printed, logged, rendered or audited.

    `reveal()` is the one way to the plaintext, meant for the outbound HTTP client. A
    value loaded from the database keeps its token and decrypts only when needed, so a
    page listing targets still renders after a key was removed, and saving a row whose
    secret was not touched keeps its token as it is.
    """

    __slots__ = ("_plaintext", "_token")

    @sensitive_variables("plaintext")
    def __init__(self, plaintext: str = "") -> None:
        if not isinstance(plaintext, str):
            raise TypeError(f"Secret() takes a str, not {type(plaintext).__name__}.")
        self._plaintext: str | None = plaintext
        self._token: str | None = None

    @classmethod
    def from_token(cls, token: str) -> "Secret":
        """A secret as stored: decrypted on first `reveal()`."""
        secret = cls.__new__(cls)
        secret._plaintext = None
        secret._token = token
        return secret

    def reveal(self) -> str:
        """The plaintext, for the HTTP client only; raises SecretUnreadable if no key fits."""
        if self._plaintext is None:
            self._plaintext = secrets.decrypt(self._token or "")
        return self._plaintext

    # Templates call attributes that take no argument: `{{ target.api_key.reveal }}` must not
    # print the plaintext. alters_data makes the template engine render nothing instead.
    reveal.alters_data = True

    @property
    def masked(self) -> str:
        """For display next to the field: "••••cdef" (last 4 of 12 or more), else "••••"."""
        try:
            return secrets.mask(self.reveal())
        except SecretUnreadable:
            return MASK

    @property
    def token(self) -> str:
        """What the database stores: a Fernet token, or "" for a blank secret."""
        if self._token is None:
            self._token = secrets.encrypt(self._plaintext) if self._plaintext else ""
        return self._token

    def __bool__(self) -> bool:
        return bool(self._token) if self._plaintext is None else bool(self._plaintext)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        # Never any character of the secret: this is what logs, tracebacks, templates and the
        # audit trail (json.dumps(..., default=str)) get.
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str) and other == "":
            return not self  # so that Django's `value in field.empty_values` sees a blank secret
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    __hash__ = None  # equal secrets must not be told apart, nor found, by a hash

    def __copy__(self) -> "Secret":
        return self  # immutable from the outside

    def __deepcopy__(self, memo) -> "Secret":
        return self

    def __reduce__(self):
        # Pickling would write the plaintext into caches and task messages: pass ids instead.
        raise TypeError("A Secret is not pickled; pass the id of the object that holds it.")


class _BlankOnlyExact(lookups.Exact):
    """`field=""` finds rows without a secret; any other value is ciphertext nobody can match."""

    def get_prep_lookup(self):
        if self.rhs == "" or (isinstance(self.rhs, Secret) and not self.rhs):
            return ""
        raise FieldError(
            'An encrypted field can only be compared with "" or tested with __isnull: '
            "its stored value is ciphertext, so it cannot be searched."
        )


class EncryptedTextField(models.TextField):
    """Text encrypted at rest with genai_po.secrets; the Python value is a `Secret`."""

    description = "Text encrypted at rest (Fernet)"

    def __init__(self, *args, **kwargs):
        for option in ("unique", "db_index", "primary_key"):
            if kwargs.get(option):
                raise ValueError(f"EncryptedTextField cannot be {option}: ciphertext is random.")
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Secret("") if value == "" else Secret.from_token(value)

    def to_python(self, value):
        """A str here is plaintext (a form, an assignment); a token only comes from the DB."""
        if value is None or isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return Secret(value)
        raise TypeError(f"EncryptedTextField takes a str or a Secret, not {type(value).__name__}.")

    def get_prep_value(self, value):
        value = models.Field.get_prep_value(self, value)  # resolves lazy strings
        if value is None:
            return None
        return self.to_python(value).token

    def value_to_string(self, obj):
        # dumpdata would otherwise write the mask, and loaddata would save it as the secret.
        raise TypeError(
            f"{self.model.__name__}.{self.name} is encrypted and is not serialized; "
            "secrets are entered again after a restore."
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        if lookup_name == "exact":
            return _BlankOnlyExact
        raise FieldError(
            f"Lookup {lookup_name!r} is refused on an encrypted field: its stored value is "
            'ciphertext. Only __isnull and = "" are allowed.'
        )

    def get_transform(self, lookup_name):
        raise FieldError(
            f"Transform {lookup_name!r} is refused on an encrypted field: its stored value is "
            "ciphertext."
        )

    def formfield(self, **kwargs):
        # The current value is never sent back to the browser.
        defaults = {
            "form_class": forms.CharField,
            "widget": forms.PasswordInput(render_value=False),
            "strip": False,
        }
        defaults.update(kwargs)
        return super().formfield(**defaults)

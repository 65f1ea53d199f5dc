"""Secrets at rest: Fernet encryption, key rotation, the Secret value and EncryptedTextField."""

import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection
from django.db.models import Value
from django.template import engines
from django.test import override_settings

from genai_po import secrets
from genai_po.audit import _json_safe
from genai_po.fields import EncryptedTextField, Secret
from genai_po.models import Organization
from genai_po.secrets import SecretUnreadable

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAINTEXT = "sk-live-0123456789abcdef"
KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()


@pytest.fixture
def old_key():
    with override_settings(SECRETS_KEYS=[KEY_OLD]):
        yield


# --- Encrypting and decrypting


def test_round_trip(old_key):
    token = secrets.encrypt(PLAINTEXT)

    assert PLAINTEXT not in token
    assert secrets.decrypt(token) == PLAINTEXT


def test_each_encryption_gives_a_different_token(old_key):
    first, second = secrets.encrypt(PLAINTEXT), secrets.encrypt(PLAINTEXT)

    assert first != second
    assert secrets.decrypt(first) == secrets.decrypt(second) == PLAINTEXT


def test_rotation_old_key_still_decrypts_and_rotate_moves_to_the_first_key():
    with override_settings(SECRETS_KEYS=[KEY_OLD]):
        token = secrets.encrypt(PLAINTEXT)

    with override_settings(SECRETS_KEYS=[KEY_NEW, KEY_OLD]):
        assert secrets.decrypt(token) == PLAINTEXT
        rotated = secrets.rotate(token)
        assert secrets.encrypt("x") != token  # new tokens come from the first key

    with override_settings(SECRETS_KEYS=[KEY_NEW]):
        assert secrets.decrypt(rotated) == PLAINTEXT
        with pytest.raises(SecretUnreadable):
            secrets.decrypt(token)


def test_removed_key_is_reported_without_the_secret_or_the_token():
    with override_settings(SECRETS_KEYS=[KEY_OLD]):
        token = secrets.encrypt(PLAINTEXT)

    with override_settings(SECRETS_KEYS=[KEY_NEW]), pytest.raises(SecretUnreadable) as caught:
        secrets.decrypt(token)

    message = str(caught.value)
    assert message == (
        "This secret cannot be decrypted with the keys in GENAI_PO_SECRETS_KEYS: the key that "
        "encrypted it was removed, or the stored value was altered. Enter the secret again."
    )
    assert PLAINTEXT not in message
    assert token not in message
    assert caught.value.__suppress_context__ is True  # no chained InvalidToken either


def test_rotate_with_a_removed_key_is_refused():
    with override_settings(SECRETS_KEYS=[KEY_OLD]):
        token = secrets.encrypt(PLAINTEXT)

    with override_settings(SECRETS_KEYS=[KEY_NEW]), pytest.raises(SecretUnreadable):
        secrets.rotate(token)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), id="last-bytes"),
        pytest.param(lambda t: t[:20] + ("x" if t[20] != "x" else "y") + t[21:], id="middle"),
        pytest.param(lambda t: t[:-10], id="truncated"),
        pytest.param(lambda t: "not a token at all", id="garbage"),
        pytest.param(lambda t: "", id="empty"),
    ],
)
def test_tampered_token_is_refused(old_key, tamper):
    token = secrets.encrypt(PLAINTEXT)

    with pytest.raises(SecretUnreadable):
        secrets.decrypt(tamper(token))


@pytest.mark.parametrize(
    ("plaintext", "shown"),
    [
        ("", "••••"),
        ("abc", "••••"),
        ("abcdefghijk", "••••"),  # 11 characters: nothing shown
        ("abcdefghijkl", "••••ijkl"),  # 12 characters: the last 4
        (PLAINTEXT, "••••cdef"),
    ],
)
def test_mask(plaintext, shown):
    assert secrets.mask(plaintext) == shown


# --- The Secret value


def test_secret_prints_as_a_mask_everywhere(old_key):
    secret = Secret(PLAINTEXT)

    assert repr(secret) == "Secret('••••')"
    assert str(secret) == "••••"
    assert f"{secret} {secret!r} %s" % secret == "•••• Secret('••••') ••••"
    assert repr({"api_key": secret}) == "{'api_key': Secret('••••')}"
    assert secret.masked == "••••cdef"
    assert secret.reveal() == PLAINTEXT


def test_secret_is_not_json_serializable():
    with pytest.raises(TypeError, match="Secret is not JSON serializable"):
        json.dumps({"api_key": Secret(PLAINTEXT)})


def test_audit_trail_gets_the_mask_only():
    # governance.audit serializes with default=str: the mask, never the secret.
    assert _json_safe({"api_key": Secret(PLAINTEXT)}) == {"api_key": "••••"}


def test_templates_show_the_mask_and_cannot_reveal():
    template = engines["django"].from_string("[{{ s }}][{{ s.reveal }}][{{ s.masked }}]")

    with override_settings(SECRETS_KEYS=[KEY_OLD]):
        assert template.render({"s": Secret(PLAINTEXT)}) == "[••••][][••••cdef]"


def test_secret_is_not_pickled():
    with pytest.raises(TypeError, match="A Secret is not pickled"):
        pickle.dumps(Secret(PLAINTEXT))


def test_secret_equality_and_truth(old_key):
    assert Secret(PLAINTEXT) == Secret(PLAINTEXT)
    assert Secret(PLAINTEXT) != Secret("other")
    assert Secret("") == ""
    assert not Secret("")
    assert Secret(PLAINTEXT)
    with pytest.raises(TypeError):
        hash(Secret(PLAINTEXT))


def test_secret_takes_only_a_str():
    with pytest.raises(TypeError, match="Secret\\(\\) takes a str, not bytes."):
        Secret(b"bytes")


# --- EncryptedTextField conversions


def test_field_stores_a_token_that_decrypts_to_the_secret(old_key):
    field = EncryptedTextField()

    token = field.get_prep_value(Secret(PLAINTEXT))
    also_token = field.get_prep_value(PLAINTEXT)  # a plain str assigned to the attribute

    assert PLAINTEXT not in token
    assert secrets.decrypt(token) == secrets.decrypt(also_token) == PLAINTEXT


def test_field_blank_and_null():
    field = EncryptedTextField(blank=True, null=True)

    assert field.get_prep_value("") == ""
    assert field.get_prep_value(Secret("")) == ""
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, connection) is None
    assert field.from_db_value("", None, connection) == Secret("")
    assert field.to_python(None) is None


def test_field_from_db_value_gives_a_secret(old_key):
    field = EncryptedTextField()
    token = secrets.encrypt(PLAINTEXT)

    value = field.from_db_value(token, None, connection)

    assert isinstance(value, Secret)
    assert value.reveal() == PLAINTEXT
    assert repr(value) == "Secret('••••')"


def test_field_to_python_treats_a_str_as_plaintext(old_key):
    field = EncryptedTextField()
    secret = Secret(PLAINTEXT)

    assert field.to_python(secret) is secret
    assert field.to_python(PLAINTEXT).reveal() == PLAINTEXT
    with pytest.raises(TypeError):
        field.to_python(42)


def test_unreadable_secret_still_lists_and_saves_unchanged():
    field = EncryptedTextField()
    with override_settings(SECRETS_KEYS=[KEY_OLD]):
        token = secrets.encrypt(PLAINTEXT)

    with override_settings(SECRETS_KEYS=[KEY_NEW]):
        value = field.from_db_value(token, None, connection)
        assert str(value) == "••••"
        assert value.masked == "••••"
        assert bool(value) is True
        assert field.get_prep_value(value) == token  # an untouched secret keeps its token
        with pytest.raises(SecretUnreadable):
            value.reveal()


def test_field_deconstructs_for_stable_migrations():
    field = EncryptedTextField(blank=True, help_text="API key")

    name, path, args, kwargs = field.deconstruct()

    assert path == "genai_po.fields.EncryptedTextField"
    assert args == []
    assert kwargs == {"blank": True, "help_text": "API key"}
    rebuilt = EncryptedTextField(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)


@pytest.mark.parametrize("option", ["unique", "db_index", "primary_key"])
def test_field_refuses_indexes(option):
    with pytest.raises(ValueError, match=f"EncryptedTextField cannot be {option}"):
        EncryptedTextField(**{option: True})


def test_form_field_never_renders_the_current_value(old_key):
    form_field = EncryptedTextField().formfield()

    html = form_field.widget.render("api_key", Secret(PLAINTEXT))

    assert 'type="password"' in html
    assert "value=" not in html
    assert form_field.clean(" padded ") == " padded "  # secrets are not stripped


# --- Through PostgreSQL


@pytest.mark.django_db
def test_database_round_trip_stores_only_ciphertext(old_key):
    field = EncryptedTextField()
    stored = field.get_db_prep_save(Secret(PLAINTEXT), connection)

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text", [stored])
        (from_db,) = cursor.fetchone()

    assert PLAINTEXT not in from_db
    assert field.from_db_value(from_db, None, connection).reveal() == PLAINTEXT


@pytest.mark.django_db
def test_orm_round_trip_and_refused_lookups(old_key):
    queryset = Organization.objects.annotate(
        key=Value(PLAINTEXT, output_field=EncryptedTextField()),
        blank=Value("", output_field=EncryptedTextField()),
    )

    keys = list(queryset.values_list("key", flat=True))
    assert len(keys) == 2  # the two organizations of every test database
    assert {key.reveal() for key in keys} == {PLAINTEXT}
    assert queryset.filter(blank="").count() == 2
    assert queryset.filter(key__isnull=False).count() == 2
    with pytest.raises(FieldError, match='can only be compared with "" or tested with __isnull'):
        queryset.filter(key=PLAINTEXT)
    with pytest.raises(FieldError, match="Lookup 'icontains' is refused on an encrypted field"):
        queryset.filter(key__icontains="sk-")
    with pytest.raises(FieldError, match="Transform 'lower' is refused on an encrypted field"):
        queryset.filter(key__lower__exact="sk-")


# --- Keys from the environment


def test_development_key_is_generated_once_with_mode_0600(tmp_path):
    var_dir = tmp_path / "var"

    first = secrets.keys_from_environment(production=False, var_dir=var_dir, environ={})
    second = secrets.keys_from_environment(production=False, var_dir=var_dir, environ={})

    path = var_dir / "secrets_key"
    assert first == second == [path.read_text()]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in var_dir.iterdir()] == ["secrets_key"]  # no temporary file left
    Fernet(first[0])


def test_development_refuses_a_corrupt_key_file(tmp_path):
    (tmp_path / "secrets_key").write_text("garbage")

    with pytest.raises(ImproperlyConfigured, match="does not hold a valid Fernet key"):
        secrets.keys_from_environment(production=False, var_dir=tmp_path, environ={})


def test_development_refuses_a_malformed_key_without_echoing_it(tmp_path):
    environ = {"GENAI_PO_SECRETS_KEYS": f"{KEY_NEW}, bad-key-9f2c"}

    with pytest.raises(ImproperlyConfigured) as caught:
        secrets.keys_from_environment(production=False, var_dir=tmp_path, environ=environ)

    assert str(caught.value).startswith(
        "GENAI_PO_SECRETS_KEYS holds 2 key(s) and key(s) 2 are not valid Fernet keys"
    )
    assert "bad-key-9f2c" not in str(caught.value)
    assert not (tmp_path / "secrets_key").exists()


def test_keys_are_split_on_commas_first_one_first(tmp_path):
    environ = {"GENAI_PO_SECRETS_KEYS": f" {KEY_NEW} ,{KEY_OLD},"}

    keys = secrets.keys_from_environment(production=True, var_dir=tmp_path, environ=environ)

    assert keys == [KEY_NEW, KEY_OLD]


# --- At boot, in a fresh interpreter (the approach of tests/test_security_settings.py)

HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
REFUSED = "django.core.exceptions.ImproperlyConfigured: Refusing to start in production: "
MISSING = (
    "GENAI_PO_SECRETS_KEYS must be set to a comma-separated list of Fernet keys "
    f"(the first encrypts, all decrypt); generate one with: {HINT}"
)
SHOW_KEYS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(len(settings.SECRETS_KEYS))"
)


def _boot_env(tmp_path, environment: str, **overrides) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "genai_po.settings",
        "GENAI_PO_VAR_DIR": str(tmp_path / "var"),
        "GENAI_PO_ENV": environment,
        "SECRET_KEY": "k" * 20 + Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "workspace.example.com",
        "GENAI_PO_AUDIT_KEYS": "k1:" + "a" * 48,
    }
    env.update({name: value for name, value in overrides.items() if value is not None})
    return env


def _boot(env, code="import django; django.setup()") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        pytest.param(None, MISSING, id="unset"),
        pytest.param(" , ", MISSING, id="blank"),
        pytest.param(
            "not-a-key-9f2c",
            "GENAI_PO_SECRETS_KEYS holds 1 key(s) and key(s) 1 are not valid Fernet keys "
            f"(32 url-safe base64-encoded bytes); generate one with: {HINT}",
            id="malformed",
        ),
        pytest.param(
            f"{KEY_NEW},not-a-key-9f2c",
            "GENAI_PO_SECRETS_KEYS holds 2 key(s) and key(s) 2 are not valid Fernet keys "
            f"(32 url-safe base64-encoded bytes); generate one with: {HINT}",
            id="second-malformed",
        ),
    ],
)
def test_production_refuses_to_start_without_valid_keys(tmp_path, keys, problem):
    result = _boot(_boot_env(tmp_path, "production", GENAI_PO_SECRETS_KEYS=keys))

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == f"{REFUSED}{problem}"
    assert "not-a-key-9f2c" not in result.stderr
    assert not (tmp_path / "var" / "secrets_key").exists()


def test_production_starts_with_valid_keys(tmp_path):
    env = _boot_env(tmp_path, "production", GENAI_PO_SECRETS_KEYS=f"{KEY_NEW},{KEY_OLD}")

    result = _boot(env, SHOW_KEYS)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_development_boot_generates_a_private_key_file(tmp_path):
    env = _boot_env(tmp_path, "development")
    show_key = SHOW_KEYS.replace("len(settings.SECRETS_KEYS)", "settings.SECRETS_KEYS[0]")

    first, second = _boot(env, show_key), _boot(env, show_key)

    path = tmp_path / "var" / "secrets_key"
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == second.stdout.strip() == path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

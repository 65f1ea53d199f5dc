"""The keys that sign the audit trail come from the environment, never the database."""

import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from genai_po.audit_keys import ENV_VAR, audit_keys_from_environment, parse_keys

GOOD = "k1:" + "s" * 40


def test_entries_are_id_and_secret_and_the_first_signs():
    keys = parse_keys(f"new:{'n' * 32}, {GOOD}")
    assert list(keys) == ["new", "k1"]
    assert keys["k1"] == b"s" * 40


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("no-colon-here" + "x" * 40, "entry 1 must be <key id>:<secret>"),
        (f"{GOOD},bad id:{'x' * 40}", "entry 2 must be <key id>:<secret>"),
        ("k1:too-short", "the secret of key 'k1' must be at least 32 characters"),
        (f"{GOOD},{GOOD}", "key id 'k1' is listed twice"),
    ],
)
def test_malformed_keys_are_refused_without_echoing_a_secret(raw, problem, tmp_path):
    with pytest.raises(ImproperlyConfigured) as exc:
        audit_keys_from_environment(production=True, var_dir=tmp_path, environ={ENV_VAR: raw})
    assert problem in str(exc.value)
    assert "x" * 40 not in str(exc.value) and "s" * 40 not in str(exc.value)
    assert str(exc.value).startswith("Refusing to start in production: ")


@pytest.mark.parametrize("raw", [None, "", " , "])
def test_production_refuses_to_start_without_keys(raw, tmp_path):
    environ = {} if raw is None else {ENV_VAR: raw}
    with pytest.raises(ImproperlyConfigured, match=f"{ENV_VAR} (must be set|holds no key)"):
        audit_keys_from_environment(production=True, var_dir=tmp_path, environ=environ)
    assert not (tmp_path / "audit_keys").exists()


def test_development_generates_a_private_key_file_once(tmp_path):
    first = audit_keys_from_environment(production=False, var_dir=tmp_path, environ={})
    second = audit_keys_from_environment(production=False, var_dir=tmp_path, environ={})

    assert first == second and len(first) == 1
    path = tmp_path / "audit_keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_id, secret = next(iter(first.items()))
    assert path.read_text() == f"{key_id}:{secret.decode()}"

"""The full-stack files: docker-compose.yml, Dockerfile and .dockerignore.

There is no Docker engine to run them here, so they are checked statically: the
compose file against the Compose Specification's JSON schema (check-jsonschema's
vendored copy, no network), then the properties that matter for running it
safely, read with PyYAML. Each property has a checker returning its problems,
and test_checker_catches_a_broken_file proves every checker can fail.
No database is needed.
"""

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = {"web", "worker", "beat", "migrate"}
LONG_RUNNING = {"postgres", "redis", "web", "worker", "beat"}
ONE_SHOT = {"migrate"}
REQUIRED_SECRETS = (
    "SECRET_KEY",
    "POSTGRES_PASSWORD",
    "GENAI_PO_SECRETS_KEYS",
    "GENAI_PO_AUDIT_KEYS",
)
# What each service's healthcheck must actually exercise.
HEALTHCHECK_PROBES = {
    "postgres": "pg_isready",
    "redis": "redis-cli",
    "web": "/accounts/login/",
    "worker": "inspect ping",
    "beat": "celerybeat-schedule",
}
REQUIRED_APP_ENV = {
    "GENAI_PO_ENV": r"production",
    "DEBUG": r"false",
    "ALLOWED_HOSTS": r"(.+,)?127\.0\.0\.1(,.+)?",  # the web healthcheck's host
    "SITE_URL": r".+",
    "SECURE_SSL_REDIRECT": r".+",
    "DATABASE_URL": r"postgres://[^:@/]+:[^@]+@postgres:5432/\w+",
    "CELERY_BROKER_URL": r"redis://redis:6379/\d+",
    "CACHE_URL": r"redis://redis:6379/\d+",
    "GENAI_PO_VAR_DIR": r"/.+",
}


def check_jsonschema() -> str:
    """The check-jsonschema of this virtualenv, else one on PATH."""
    beside_python = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside_python) if beside_python.exists() else shutil.which("check-jsonschema")
    assert found, "check-jsonschema is missing: it is a dev dependency (uv sync)"
    return found


def validate_against_compose_spec(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# --- Helpers reading compose values in either of their syntaxes


def as_text(value) -> str:
    """A command or healthcheck test (string or list) as one string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return shlex.join(str(part) for part in value)


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return dict(pairs)
    return {key: None if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    """Dependency -> condition; the short (list) syntax means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def volume_mounts(service: dict) -> list[tuple[str | None, str]]:
    """(source, target) of each mount; source None for an anonymous volume."""
    mounts = []
    for mount in service.get("volumes") or []:
        if isinstance(mount, dict):
            mounts.append((mount.get("source"), mount["target"]))
            continue
        parts = mount.split(":")
        mounts.append((parts[0], parts[1]) if len(parts) > 1 else (None, parts[0]))
    return mounts


def is_named_volume(source: str | None) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


# --- Checkers: each returns a list of problems, empty when the file is right


def service_problems(doc: dict) -> list[str]:
    services = doc.get("services") or {}
    missing = (LONG_RUNNING | ONE_SHOT) - services.keys()
    problems = [f"service {name!r} is missing" for name in sorted(missing)]
    images = {"postgres": "postgres:15", "redis": "redis:7"}
    for name, image in images.items():
        if name in services and services[name].get("image") != image:
            problems.append(f"{name} must run {image}, not {services[name].get('image')!r}")
    for name in APP_SERVICES & services.keys():
        if "build" not in services[name]:
            problems.append(f"{name} must be built from the Dockerfile")
    return problems


def healthcheck_problems(doc: dict) -> list[str]:
    problems = []
    services = doc.get("services") or {}
    for name in sorted(LONG_RUNNING & services.keys()):
        check = services[name].get("healthcheck") or {}
        test = as_text(check.get("test"))
        if not test or check.get("disable") or test.strip() in {"NONE", "'NONE'"}:
            problems.append(f"{name} has no healthcheck")
        elif HEALTHCHECK_PROBES[name] not in test:
            problems.append(f"{name}'s healthcheck does not use {HEALTHCHECK_PROBES[name]!r}")
    return problems


def dependency_problems(doc: dict) -> list[str]:
    problems = []
    services = doc.get("services") or {}
    required = {
        "migrate": {"postgres": "service_healthy"},
        "web": {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "migrate": "service_completed_successfully",
        },
        "worker": {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "migrate": "service_completed_successfully",
        },
        "beat": {"redis": "service_healthy"},
    }
    for name, needs in required.items():
        deps = depends_on(services.get(name) or {})
        for dependency, condition in needs.items():
            if deps.get(dependency) != condition:
                problems.append(f"{name} must depend on {dependency} with condition {condition}")
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            if dependency in LONG_RUNNING and condition != "service_healthy":
                problems.append(f"{name} waits for {dependency} with {condition}, not healthy")
    if (services.get("migrate") or {}).get("restart", "no") != "no":
        problems.append("migrate is one-shot: it must not restart")
    return problems


def command_problems(doc: dict) -> list[str]:
    services = doc.get("services") or {}
    expected = {
        "migrate": r"\bmanage\.py migrate\b",
        "web": r"\bgunicorn\b.*\bgenai_po\.wsgi:application\b",
        "worker": r"\bcelery -A genai_po worker\b",
        "beat": r"\bcelery -A genai_po beat\b.*--schedule[= ]/",
    }
    problems = []
    for name, pattern in expected.items():
        command = as_text((services.get(name) or {}).get("command"))
        if not re.search(pattern, command):
            problems.append(f"{name} runs {command!r}, expected /{pattern}/")
    return problems


def port_problems(doc: dict) -> list[str]:
    problems = []
    for name, service in (doc.get("services") or {}).items():
        if service.get("network_mode") == "host":
            problems.append(f"{name} uses the host network, bypassing loopback-only ports")
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                host_ip = str(port).split(":")[0] if str(port).count(":") >= 2 else None
            if host_ip != "127.0.0.1":
                problems.append(f"{name} publishes {port!r} beyond 127.0.0.1")
    return problems


def secret_problems(doc: dict) -> list[str]:
    """Secrets only ever come from the caller's environment, with no default."""
    problems = []
    services = doc.get("services") or {}
    for name, service in services.items():
        env = environment(service)
        for secret in REQUIRED_SECRETS:
            if secret in env and not re.fullmatch(
                rf"\$\{{{secret}:?\?[^}}]+\}}", env[secret] or ""
            ):
                problems.append(f"{name} sets {secret} to something other than ${{{secret}:?…}}")
        url = env.get("DATABASE_URL") or ""
        if url and "${POSTGRES_PASSWORD:?" not in url:
            problems.append(
                f"{name}'s DATABASE_URL does not take the password from the environment"
            )
    for name in sorted(APP_SERVICES & services.keys()):
        if "SECRET_KEY" not in environment(services[name]):
            problems.append(f"{name} does not receive SECRET_KEY")
    if "POSTGRES_PASSWORD" not in environment(services.get("postgres") or {}):
        problems.append("postgres does not receive POSTGRES_PASSWORD")
    return problems


def environment_problems(doc: dict) -> list[str]:
    problems = []
    services = doc.get("services") or {}
    for name in sorted(APP_SERVICES & services.keys()):
        env = environment(services[name])
        for key, pattern in REQUIRED_APP_ENV.items():
            if not re.fullmatch(pattern, env.get(key) or ""):
                problems.append(f"{name}: {key}={env.get(key)!r} does not match /{pattern}/")
    return problems


def volume_problems(doc: dict) -> list[str]:
    problems = []
    services = doc.get("services") or {}
    declared = set((doc.get("volumes") or {}).keys())
    for name, service in services.items():
        for source, _ in volume_mounts(service):
            if is_named_volume(source) and source not in declared:
                problems.append(f"{name} mounts volume {source!r}, not declared under volumes:")
    postgres_mounts = {
        target: source for source, target in volume_mounts(services.get("postgres") or {})
    }
    if not is_named_volume(postgres_mounts.get("/var/lib/postgresql/data")):
        problems.append("postgres data is not on a named volume")
    beat = services.get("beat") or {}
    schedule = re.search(r"--schedule[= ](\S+)", as_text(beat.get("command")))
    beat_dirs = [target for source, target in volume_mounts(beat) if is_named_volume(source)]
    if not schedule or not any(schedule.group(1).startswith(d + "/") for d in beat_dirs):
        problems.append("beat's --schedule file is not on a named volume")
    return problems


CHECKERS: dict[str, Callable[[dict], list[str]]] = {
    "services": service_problems,
    "healthchecks": healthcheck_problems,
    "dependencies": dependency_problems,
    "commands": command_problems,
    "ports": port_problems,
    "secrets": secret_problems,
    "environment": environment_problems,
    "volumes": volume_problems,
}


# --- Tests of the real file


def test_compose_file_follows_the_compose_specification():
    result = validate_against_compose_spec(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("checker", CHECKERS.values(), ids=CHECKERS.keys())
def test_compose_file(compose, checker):
    assert checker(compose) == []


# --- The checks can fail: each broken copy of the file is caught


def _drop(path: str) -> Callable[[dict], None]:
    *parents, last = path.split(".")

    def mutate(doc: dict) -> None:
        node = doc
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


def _set(path: str, value) -> Callable[[dict], None]:
    *parents, last = path.split(".")

    def mutate(doc: dict) -> None:
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


BROKEN = {
    "no beat": ("services", _drop("services.beat")),
    "no migrate": ("services", _drop("services.migrate")),
    "postgres 16": ("services", _set("services.postgres.image", "postgres:16")),
    "web without healthcheck": ("healthchecks", _drop("services.web.healthcheck")),
    "worker without healthcheck": ("healthchecks", _drop("services.worker.healthcheck")),
    "redis healthcheck disabled": ("healthchecks", _set("services.redis.healthcheck.disable", 1)),
    "worker healthcheck probes nothing": (
        "healthchecks",
        _set("services.worker.healthcheck.test", ["CMD", "true"]),
    ),
    "web starts before migrate": (
        "dependencies",
        _set("services.web.depends_on", {"postgres": {"condition": "service_healthy"}}),
    ),
    "worker waits only for postgres to start": (
        "dependencies",
        _set("services.worker.depends_on.postgres", {"condition": "service_started"}),
    ),
    "migrate restarts": ("dependencies", _set("services.migrate.restart", "always")),
    "web runs runserver": ("commands", _set("services.web.command", "python manage.py runserver")),
    "web on every interface": ("ports", _set("services.web.ports", ["8000:8000"])),
    "web on 0.0.0.0": ("ports", _set("services.web.ports", ["0.0.0.0:8000:8000"])),
    "web on a long-syntax public port": (
        "ports",
        _set("services.web.ports", [{"target": 8000, "published": 8000}]),
    ),
    "redis published": ("ports", _set("services.redis.ports", ["6379:6379"])),
    "secret key hard-coded": ("secrets", _set("services.web.environment.SECRET_KEY", "x" * 60)),
    "secret key with a default": (
        "secrets",
        _set("services.worker.environment.SECRET_KEY", "${SECRET_KEY:-changeme}"),
    ),
    "postgres password hard-coded": (
        "secrets",
        _set("services.postgres.environment.POSTGRES_PASSWORD", "postgres"),
    ),
    "debug on": ("environment", _set("services.web.environment.DEBUG", "true")),
    "development mode": ("environment", _set("services.beat.environment.GENAI_PO_ENV", "x")),
    "database on localhost": (
        "environment",
        _set("services.worker.environment.DATABASE_URL", "postgres://u:p@localhost:5432/db"),
    ),
    "volumes undeclared": ("volumes", _drop("volumes")),
    "postgres data in the container": ("volumes", _drop("services.postgres.volumes")),
    "beat schedule in the container": ("volumes", _drop("services.beat.volumes")),
}


def _independent_copy(doc: dict) -> dict:
    """A deep copy without the YAML anchors' sharing (one edit, one service)."""
    return yaml.safe_load(yaml.safe_dump(doc))


@pytest.mark.parametrize("checker_name, mutate", BROKEN.values(), ids=BROKEN.keys())
def test_checker_catches_a_broken_file(compose, checker_name, mutate):
    broken = _independent_copy(compose)
    mutate(broken)
    assert CHECKERS[checker_name](broken), f"{checker_name} did not notice"


def test_compose_spec_validation_catches_a_misspelt_key(compose, tmp_path):
    broken = _independent_copy(compose)
    broken["services"]["web"]["healthchek"] = broken["services"]["web"].pop("healthcheck")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert validate_against_compose_spec(path).returncode != 0


# --- The image


def test_dockerfile_builds_the_locked_project_as_a_non_root_user():
    text = DOCKERFILE.read_text()
    instructions = [
        [*line.split(None, 1), ""][:2]
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    bases = [args.split()[0] for op, args in instructions if op.upper() == "FROM"]
    assert bases and set(bases) == {"python:3.11-slim"}, bases
    assert re.search(r"pip install [^\n]*\buv==0\.13\.8\b", text)
    assert re.search(r"uv sync --frozen --no-dev(?! --no-install-project)", text)
    users = [args.strip() for op, args in instructions if op.upper() == "USER"]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    # Collecting static files at build time needs dummy settings; none may stay in the image.
    kept = " ".join(args for op, args in instructions if op.upper() in {"ENV", "ARG"})
    assert "SECRET_KEY" not in kept


def test_image_contains_every_packaged_module():
    """Every package of the wheel is copied into the image and let through .dockerignore."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    needed = [*packages, "templates", "static", "manage.py", "README.md", "uv.lock"]
    copied = " ".join(
        line.split(None, 1)[1]
        for line in DOCKERFILE.read_text().splitlines()
        if line.upper().startswith("COPY ")
    )
    ignore = DOCKERIGNORE.read_text().splitlines()
    assert "*" in ignore, ".dockerignore must be an allow-list (.env and var/ stay out)"
    for item in needed:
        assert re.search(rf"(^|\s){re.escape(item)}(\s|$)", copied), f"Dockerfile misses {item}"
        assert f"!{item}" in ignore or f"!{item}/" in ignore, f".dockerignore drops {item}"

"""Deployment safety: production settings that refuse to boot, headers, assets, error pages.

This module doubles as a URL configuration (see `urlpatterns` below) so that a view
that raises can be mounted for the 500 tests without touching app code.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.urls import path

from genai_po import errors
from genai_po import urls as project_urls
from genai_po.roles import Role

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = REPO_ROOT / "templates"
LEAKY_DETAIL = "secret-detail-9f2c"


# --- A URL configuration with a view that fails, for the 500 page


def _boom(request):
    raise RuntimeError(f"database password is hunter2 ({LEAKY_DETAIL})")


urlpatterns = [
    path("boom/", _boom),
    path("api/v1/boom/", _boom),
    *project_urls.urlpatterns,
]
handler400 = "genai_po.errors.bad_request"
handler403 = "genai_po.errors.permission_denied"
handler404 = "genai_po.errors.page_not_found"
handler500 = "genai_po.errors.server_error"


# --- Production settings refuse unsafe configuration

GOOD_SECRET = secrets.token_urlsafe(64)
SETUP = "import django; django.setup()"


GOOD_SECRETS_KEY = "0" * 42 + "A="  # a well-formed Fernet key (32 bytes, url-safe base64)
GOOD_AUDIT_KEYS = "k1:" + secrets.token_urlsafe(48)


def _production_env(tmp_path, **overrides) -> dict[str, str]:
    """A clean environment: nothing leaks in from the shell that runs the tests."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "genai_po.settings",
        "GENAI_PO_VAR_DIR": str(tmp_path / "var"),
        "GENAI_PO_ENV": "production",
        "SECRET_KEY": GOOD_SECRET,
        "ALLOWED_HOSTS": "workspace.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://workspace.example.com",
        "GENAI_PO_SECRETS_KEYS": GOOD_SECRETS_KEY,
        "GENAI_PO_AUDIT_KEYS": GOOD_AUDIT_KEYS,
    }
    for name in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        if name in os.environ:
            env[name] = os.environ[name]
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


REFUSED = "django.core.exceptions.ImproperlyConfigured: Refusing to start in production: "
DEBUG_PROBLEM = "DEBUG must be off (unset DEBUG or set DEBUG=false)"
SECRET_PROBLEM = "SECRET_KEY must be set to a random value of at least 50 characters"
HOSTS_PROBLEM = "ALLOWED_HOSTS must list the host names the app is served on (not '*')"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        pytest.param({"DEBUG": "true"}, DEBUG_PROBLEM, id="debug-on"),
        pytest.param({"DEBUG": "1"}, DEBUG_PROBLEM, id="debug-1"),
        pytest.param({"SECRET_KEY": None}, SECRET_PROBLEM, id="no-secret-key"),
        pytest.param({"SECRET_KEY": ""}, SECRET_PROBLEM, id="empty-secret-key"),
        pytest.param({"SECRET_KEY": "s3cr3t-but-far-too-short"}, SECRET_PROBLEM, id="short-key"),
        pytest.param({"ALLOWED_HOSTS": None}, HOSTS_PROBLEM, id="no-allowed-hosts"),
        pytest.param({"ALLOWED_HOSTS": " , "}, HOSTS_PROBLEM, id="blank-allowed-hosts"),
        pytest.param({"ALLOWED_HOSTS": "*"}, HOSTS_PROBLEM, id="wildcard-allowed-hosts"),
        pytest.param(
            {"SECRET_KEY": "django-insecure-" + "x" * 50}, SECRET_PROBLEM, id="insecure-key"
        ),
    ],
)
def test_production_refuses_unsafe_config(tmp_path, overrides, problem):
    result = _run(["-c", SETUP], _production_env(tmp_path, **overrides))

    assert result.returncode != 0
    assert _last_line(result.stderr) == f"{REFUSED}{problem}."


def test_production_names_every_problem_at_once(tmp_path):
    env = _production_env(tmp_path, DEBUG="on", SECRET_KEY=None, ALLOWED_HOSTS=None)
    result = _run(["-c", SETUP], env)

    assert result.returncode != 0
    assert _last_line(result.stderr) == (
        f"{REFUSED}{DEBUG_PROBLEM}; {SECRET_PROBLEM}; {HOSTS_PROBLEM}."
    )


def test_unknown_environment_name_is_refused(tmp_path):
    result = _run(["-c", SETUP], _production_env(tmp_path, GENAI_PO_ENV="bogus"))

    assert result.returncode != 0
    assert _last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: "
        "GENAI_PO_ENV must be 'development' or 'production', got 'bogus'."
    )


def test_unparseable_debug_is_refused(tmp_path):
    result = _run(["-c", SETUP], _production_env(tmp_path, DEBUG="maybe"))

    assert result.returncode != 0
    assert _last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: DEBUG must be true or false, got 'maybe'."
    )


def test_good_production_config_boots(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS)"
    )
    result = _run(["-c", code], _production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True True True 31536000"


def test_good_production_config_passes_the_security_deploy_checks(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        _production_env(tmp_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."


def test_good_production_config_passes_the_deploy_checks(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# --- Security headers and the page shell


class _PageScan(HTMLParser):
    """What a strict CSP cares about in a rendered page."""

    def __init__(self):
        super().__init__()
        self.body_attrs: dict[str, str] | None = None
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[str | None] = []
        self.inline_script_text: list[str] = []
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self.javascript_urls: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "body":
            self.body_attrs = attributes
        if tag == "script":
            self.scripts.append(attributes)
            self._in_inline_script = not attributes.get("src")
        if tag == "style":
            self.style_elements += 1
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href"))
        for name, value in attributes.items():
            if name.startswith("on"):
                self.event_handlers.append(f"<{tag} {name}>")
            if name == "style":
                self.style_attributes.append(f"<{tag} style>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.javascript_urls.append(f"<{tag} {name}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.inline_script_text.append(data.strip())


def scan(response) -> _PageScan:
    parser = _PageScan()
    parser.feed(response.content.decode())
    parser.close()
    return parser


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parts = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in parts}


PAGES = {
    "login": ("/accounts/login/", False),
    "signup": ("/accounts/signup/", False),
    "password reset": ("/accounts/password/reset/", False),
    "org home": ("/o/org-a/", True),
    "members": ("/o/org-a/settings/members/", True),
    "security": ("/accounts/security/", True),
}


@pytest.fixture
def rendered(request, client, owner_a, member_factory, org_a):
    url, signed_in = PAGES[request.param]
    if signed_in:
        member_factory(org_a, Role.VIEWER)  # a members list with more than one row
        client.force_login(owner_a.user)
    response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("rendered", list(PAGES), indirect=True)
class TestRenderedPages:
    def test_csp_allows_only_own_scripts(self, rendered):
        directives = csp_directives(rendered)
        assert directives["script-src"] == ["'self'"]
        assert directives["default-src"] == ["'self'"]
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["base-uri"] == ["'self'"]
        assert "'unsafe-inline'" not in rendered["Content-Security-Policy"]
        assert "'unsafe-eval'" not in rendered["Content-Security-Policy"]

    def test_frames_and_sniffing_are_denied(self, rendered):
        assert rendered["X-Frame-Options"] == "DENY"
        assert rendered["X-Content-Type-Options"] == "nosniff"
        assert rendered["Referrer-Policy"] == "same-origin"

    def test_no_inline_script_or_style(self, rendered):
        found = scan(rendered)
        assert found.scripts, "the page loads its scripts"
        assert [s for s in found.scripts if not s.get("src")] == []
        assert found.inline_script_text == []
        assert found.event_handlers == []
        assert found.javascript_urls == []
        assert found.style_elements == 0
        assert found.style_attributes == []

    def test_scripts_and_styles_come_from_own_static(self, rendered):
        found = scan(rendered)
        assert {s["src"] for s in found.scripts} == {
            "/static/vendor/htmx/htmx-2.0.11.min.js",
            "/static/js/app.js",
        }
        assert found.stylesheets == [
            "/static/vendor/pico/pico-2.1.1.min.css",
            "/static/css/app.css",
        ]

    def test_body_sends_the_csrf_token_with_htmx_requests(self, rendered):
        body = scan(rendered).body_attrs
        headers = json.loads(body["hx-headers"])
        assert list(headers) == ["X-CSRFToken"]
        assert re.fullmatch(r"[A-Za-z0-9]{64}", headers["X-CSRFToken"])


@pytest.mark.django_db
def test_the_body_csrf_header_is_accepted_by_csrf_protection(owner_a):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner_a.user)

    refused = browser.post("/accounts/logout/")
    assert refused.status_code == 403

    page = browser.get("/o/org-a/")
    token = json.loads(scan(page).body_attrs["hx-headers"])["X-CSRFToken"]
    signed_out = browser.post("/accounts/logout/", headers={"X-CSRFToken": token})
    assert signed_out.status_code == 302
    assert signed_out["Location"] == "/accounts/login/"


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_http_only(client, owner_a, settings):
    response = client.post(
        "/accounts/login/", {"username": owner_a.user.email, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    session_cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"
    csrf_cookie = Client().get("/accounts/signup/").cookies[settings.CSRF_COOKIE_NAME]
    assert csrf_cookie["httponly"] is True


# --- Static assets: vendored, pinned, served by the app


VENDORED = {
    "vendor/htmx/htmx-2.0.11.min.js": "text/javascript",
    "vendor/pico/pico-2.1.1.min.css": "text/css",
    "vendor/plotly/plotly-4.1.1.min.js": "text/javascript",
}


@pytest.mark.parametrize(("name", "content_type"), list(VENDORED.items()))
def test_vendored_asset_is_served_from_static_vendor(client, name, content_type):
    location = finders.find(name)
    assert location is not None, f"{name} is not vendored under static/"
    assert Path(location).resolve() == (REPO_ROOT / "static" / name).resolve()

    response = client.get(f"/static/{name}")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type
    assert b"".join(response.streaming_content) == Path(location).read_bytes()


def _template_files() -> list[Path]:
    files = sorted(TEMPLATES_DIR.rglob("*.html")) + sorted(TEMPLATES_DIR.rglob("*.txt"))
    for app in ("genai_po", "usecases", "evals", "context", "governance", "metrics"):
        files += sorted((REPO_ROOT / app / "templates").rglob("*.html"))
    return files


_EXTERNAL_ASSET = re.compile(
    r"""<(?:script|link|img|iframe|source|audio|video|embed|object|track|image)\b[^>]*?"""
    r"""\b(?:src|href|srcset|data|poster|xlink:href)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+["']?\s*(?:url\()?\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE | re.DOTALL,
)


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="https://cdn.example/htmx.js"></script>',
        "<link rel=stylesheet href='//cdn.example/pico.css'>",
        '<img alt="" src="http://cdn.example/logo.png">',
        '<div style="background: url(https://cdn.example/bg.png)">',
        '@import "https://cdn.example/font.css";',
    ],
)
def test_external_asset_pattern_catches_cdn_references(snippet):
    assert _EXTERNAL_ASSET.search(snippet)


def test_no_template_loads_assets_from_another_host():
    files = _template_files()
    assert len(files) >= 20
    offenders = [
        f"{file.relative_to(REPO_ROOT)}: {match.group(0)}"
        for file in files
        for match in _EXTERNAL_ASSET.finditer(file.read_text())
    ]
    assert offenders == []


def test_no_template_names_an_external_http_host():
    pattern = re.compile(r"https?://(?!127\.0\.0\.1|localhost)[\w.-]+", re.IGNORECASE)
    offenders = [
        f"{file.relative_to(REPO_ROOT)}: {match.group(0)}"
        for file in _template_files()
        for match in pattern.finditer(file.read_text())
    ]
    assert offenders == []


def test_stylesheets_load_nothing_from_another_host():
    css_files = sorted((REPO_ROOT / "static").rglob("*.css"))
    assert css_files
    offenders = [
        str(file.relative_to(REPO_ROOT))
        for file in css_files
        if re.search(r"url\(\s*[\"']?\s*(?:https?:)?//|@import\s+[^;]*//", file.read_text())
    ]
    assert offenders == []


def test_every_static_reference_in_templates_exists():
    referenced = {
        name
        for file in _template_files()
        for name in re.findall(r"""\{%\s*static\s+["']([^"']+)["']\s*%\}""", file.read_text())
    }
    assert referenced >= {"vendor/htmx/htmx-2.0.11.min.js", "vendor/pico/pico-2.1.1.min.css"}
    assert {name for name in referenced if finders.find(name) is None} == set()


# --- Error pages leak nothing


@pytest.mark.django_db
def test_unknown_url_renders_the_404_page_without_the_path(client):
    response = client.get("/no-such-page-4e1d/?q=who-is-there")

    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "There is nothing here." in html
    assert "no-such-page-4e1d" not in html
    assert "who-is-there" not in html
    assert "Traceback" not in html
    assert response["Content-Security-Policy"]


@pytest.mark.django_db
def test_other_tenants_org_looks_exactly_like_a_missing_one(client, owner_a, org_b):
    client.force_login(owner_a.user)

    def body(url):
        response = client.get(url)
        assert response.status_code == 404
        html = response.content.decode()
        # CSRF tokens are masked afresh on every render; all else must match.
        return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*"', "", html)

    not_mine = body("/o/org-b/")
    missing = body("/o/no-such-org-77/")
    assert not_mine == missing
    assert "No such organization" not in missing
    assert "no-such-org-77" not in missing
    assert "org-b" not in not_mine


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/no-such-thing/", {"message": "No such API endpoint.", "code": "not_found"}),
        ("/api/no-such-version/", {"message": "There is nothing here.", "code": "404"}),
    ],
)
def test_api_404_is_json(client, url, body):
    response = client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_crashing_page_renders_the_500_page_without_the_exception(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False

    response = client.get("/boom/")

    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert LEAKY_DETAIL not in html
    assert "hunter2" not in html
    assert "RuntimeError" not in html
    assert "Traceback" not in html


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_crashing_api_endpoint_answers_json_without_the_exception(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False

    response = client.get("/api/v1/boom/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "message": "Something went wrong on our side. It has been logged.",
        "code": "500",
    }


def test_server_error_handler_renders_without_context():
    rf = RequestFactory()

    page = errors.server_error(rf.get("/o/org-a/evals/runs/123/"))
    assert page.status_code == 500
    html = page.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert "org-a" not in html
    assert "123" not in html

    api = errors.server_error(rf.get("/api/v1/eval-runs/123/"))
    assert api.status_code == 500
    assert json.loads(api.content) == {
        "message": "Something went wrong on our side. It has been logged.",
        "code": "500",
    }

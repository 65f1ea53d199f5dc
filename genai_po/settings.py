"""Settings for every way of running the workspace, read from the environment.

GENAI_PO_ENV=development (the default) is the embedded mode of `make run`: SQLite
under var/, a filesystem Celery broker, a file cache. GENAI_PO_ENV=production
refuses to start unless the deployment is configured safely.
"""

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from genai_po.env import env_bool, env_float, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("GENAI_PO_VAR_DIR", str(BASE_DIR / "var")))

ENVIRONMENT = env_str("GENAI_PO_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"GENAI_PO_ENV must be 'development' or 'production', got {ENVIRONMENT!r}."
    )
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])


def _development_secret_key() -> str:
    """A random key kept in var/ so that sessions survive a restart of `make run`."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off (unset DEBUG or set DEBUG=false)")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the host names the app is served on (not '*')")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems) + ".")
elif not SECRET_KEY:
    SECRET_KEY = _development_secret_key()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "genai_po",
    "usecases",
    "evals",
    "context",
    "governance",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "genai_po.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "genai_po.middleware.SessionLifetimeMiddleware",
    "genai_po.middleware.RefuseNulMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "genai_po.urls"
WSGI_APPLICATION = "genai_po.wsgi.application"
AUTH_USER_MODEL = "genai_po.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "genai_po.context_processors.workspace",
            ],
        },
    },
]

# --- Database: SQLite under var/ by default, PostgreSQL with DATABASE_URL=postgres://...
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'genai_po.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Concurrent writers (web threads, the worker) wait for the write lock instead of failing
    # with "database is locked": WAL lets readers go on while one writes, IMMEDIATE takes the
    # lock when a transaction begins (not halfway, where SQLite cannot wait), and the busy
    # timeout is how long a writer waits.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 30),
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis when CACHE_URL=redis://..., a file cache under var/ otherwise.
# The sign-in throttle lives here, so it must be shared by every web process.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "genai_po"),
        }
    }
elif CACHE_URL:
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL, got {CACHE_URL!r}.")
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Authentication and sessions
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Idle timeout: the cookie's age is renewed on every request, so it expires after
# this many seconds without activity. The absolute lifetime is enforced by
# SessionLifetimeMiddleware from the time of sign-in.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 2 * 60 * 60)
SESSION_ABSOLUTE_LIFETIME = env_int("SESSION_ABSOLUTE_LIFETIME", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# Sign-in throttle (genai_po/throttle.py): failures per (account, address) before that pair
# is locked; per account from anywhere before a doubling back-off; per address.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("LOGIN_ACCOUNT_FAILURE_LIMIT", 20)
LOGIN_ACCOUNT_BACKOFF_SECONDS = env_int("LOGIN_ACCOUNT_BACKOFF_SECONDS", 30)
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 30)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)

INVITATION_TTL_SECONDS = env_int("INVITATION_TTL_SECONDS", 7 * 24 * 60 * 60)

# --- Security headers
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

if PRODUCTION:
    # Off only to try the production stack over plain http on localhost.
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Internationalization
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files: vendored and pinned under static/, served by WhiteNoise.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email: console in development, SMTP when EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "GenAI PO Workspace <no-reply@localhost>")
# Links in emails sent by workers, which have no request to build them from.
# The port `make run` serves on (GENAI_PO_PORT), and the address links in emails use.
GENAI_PO_PORT = env_int("GENAI_PO_PORT", 8000)
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{GENAI_PO_PORT}").rstrip("/")

# --- Celery: a filesystem broker in the embedded mode, Redis in the full stack.
# "filesystem://localhost/": the transport needs no host, but kombu warns when none is named.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_TASK_IGNORE_RESULT = True  # state lives in our tables, never in Celery results
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "genai_po.tasks.sessions_clear_expired",
        "schedule": 60 * 60,
    },
    "verify-audit-chains": {
        "task": "genai_po.tasks.audit_chains_verify",
        "schedule": 24 * 60 * 60,
    },
}  # the areas add theirs in AppConfig.ready() (genai_po.registry.register_periodic_task)
EVAL_REAP_INTERVAL_SECONDS = env_float("EVAL_REAP_INTERVAL_SECONDS", 10)
# --- Eval runs: PostgreSQL leases are the source of truth (see evals/engine.py).
EVAL_LEASE_SECONDS = env_float("EVAL_LEASE_SECONDS", 30)
EVAL_CHUNK_ATTEMPTS = env_int("EVAL_CHUNK_ATTEMPTS", 3)
EVAL_DRIVE_BUDGET_SECONDS = env_float("EVAL_DRIVE_BUDGET_SECONDS", 10 * 60)

# --- REST API
# Rate limits (genai_po/api/throttling.py): "<number>/<second|minute|hour|day>".
API_RATE_PER_TOKEN = env_rate("API_RATE_PER_TOKEN", "600/minute")
API_RATE_PER_IP = env_rate("API_RATE_PER_IP", "1200/minute")
API_RATE_RUN_STARTS = env_rate("API_RATE_RUN_STARTS", "60/minute")
# The AI system calls knowledge search once per question it answers: its own, higher limit
# per token, instead of the token and address limits.
API_RATE_KNOWLEDGE_SEARCH = env_rate("API_RATE_KNOWLEDGE_SEARCH", "6000/minute")
API_AUTH_FAILURES_PER_IP = env_rate("API_AUTH_FAILURES_PER_IP", "20/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["genai_po.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["genai_po.api.permissions.HasTokenScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["genai_po.api.parsers.SafeJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "genai_po.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "genai_po.api.errors.json_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "genai_po.api.throttling.IpRateThrottle",
        "genai_po.api.throttling.TokenRateThrottle",
    ],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GenAI PO Workspace API",
    "DESCRIPTION": (
        "Organization-scoped API for CI systems and agents. Authenticate with "
        "`Authorization: Bearer <token>`; a token belongs to one organization and carries scopes."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "UseCaseStatusEnum": "usecases.models.UseCaseStatus",
        "RequirementStatusEnum": "usecases.models.RequirementStatus",
        "StageEnum": "usecases.models.Stage",
        "GapStatusEnum": "context.models.GapStatus",
        "KnowledgeStatusEnum": "context.models.KnowledgeStatus",
        "ApprovalStatusEnum": "context.models.ApprovalStatus",
        "AnswerStatusEnum": "context.models.AnswerStatus",
        "ReleaseStatusEnum": "governance.models.ReleaseStatus",
        "IncidentStatusEnum": "governance.models.IncidentStatus",
        "FollowUpStatusEnum": "governance.models.FollowUpStatus",
        "IncidentTypeEnum": "governance.models.IncidentType",
        "RequirementTypeEnum": "usecases.models.RequirementType",
        "BacklogItemStatusEnum": "usecases.models.BacklogItemStatus",
    },
    "APPEND_COMPONENTS": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    "SECURITY": [{"bearerAuth": []}],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors_in_one_line": {"()": "genai_po.logging.ClientErrorsInOneLine"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors_in_one_line"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers would print each record a second time: only the root prints.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

# ==== Secrets at rest (genai_po/secrets.py) ==================================================
# GENAI_PO_SECRETS_KEYS: comma-separated Fernet keys, the first encrypts, all decrypt (rotation).
# Production refuses to start without valid keys; development generates one into var/.
# Settings whose names contain KEY or SECRET are masked on Django's error pages and reports.
from genai_po.secrets import keys_from_environment  # noqa: E402 — appended block, needs PRODUCTION

SECRETS_KEYS = keys_from_environment(production=PRODUCTION, var_dir=VAR_DIR)
# ==== end of secrets at rest ==================================================================

# ==== Audit trail keys (genai_po/audit_keys.py) =================================================
# GENAI_PO_AUDIT_KEYS: comma-separated <key id>:<secret>, the first signs, all verify (rotation).
# Never in the database. Production refuses to start without; development generates one in var/.
from genai_po.audit_keys import audit_keys_from_environment  # noqa: E402 — needs PRODUCTION

AUDIT_KEYS = audit_keys_from_environment(production=PRODUCTION, var_dir=VAR_DIR)
# ==== end of audit trail keys ===================================================================

# The full-stack image: web (gunicorn), Celery worker and beat all run from it.
# Built and configured by docker-compose.yml; at run time only the environment
# configures it (see genai_po/settings.py).

# --- Build stage: the locked dependencies, the project and its static files.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install uv==0.13.8

WORKDIR /app

# The locked dependencies alone first: this layer survives code changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# The code (keep in step with [tool.hatch.build.targets.wheel] packages and
# .dockerignore), then the project itself, which installs the `genai-po` command.
COPY README.md manage.py ./
COPY genai_po ./genai_po
COPY usecases ./usecases
COPY evals ./evals
COPY context ./context
COPY governance ./governance
COPY metrics ./metrics
COPY templates ./templates
COPY static ./static
RUN uv sync --frozen --no-dev

# Static files are baked into the image and served by WhiteNoise. Production
# settings use the manifest storage, so collect with production settings; these
# dummy values exist for this one step of the build stage only.
RUN GENAI_PO_ENV=production DEBUG=false \
    SECRET_KEY=build-time-collectstatic-only-not-a-secret-0123456789abcdef \
    ALLOWED_HOSTS=build.invalid \
    GENAI_PO_SECRETS_KEYS=0000000000000000000000000000000000000000000A= \
    GENAI_PO_AUDIT_KEYS=build:collectstatic-only-not-a-secret-0123456789 \
    GENAI_PO_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput --verbosity 0

# --- Runtime stage: no pip cache, no uv, no build leftovers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    GENAI_PO_ENV=production \
    GENAI_PO_VAR_DIR=/data

# Code stays root-owned and read-only to the app; /data is its one writable
# folder (GENAI_PO_VAR_DIR; the beat schedule volume is mounted there).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin app \
 && install -d -o app -g app -m 0750 /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app

USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "--config", "genai_po/gunicorn.conf.py", "genai_po.wsgi:application"]

# syntax=docker/dockerfile:1
# The platform's production image: gunicorn (web), or a Celery worker / beat with another
# command (see compose.yaml). Configuration comes from the environment (README "Production").
# Not built on the machine this repository is developed on (it has no container daemon);
# `make serve` and the CI scale-out check run the same processes without containers.

# --- build: dependencies into a virtualenv, static files collected ---------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first (their layer is reused while only the code changes).
COPY pyproject.toml ./
# The pinned runtime dependencies of pyproject.toml (not the dev ones).
RUN python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY . .
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY=collectstatic-only \
    DJANGO_EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput --verbosity 0

# --- run: the virtualenv, the code and the static files, as a non-root user -----------------
FROM python:3.11-slim-bookworm AS run
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    CURATION_RELEASES_DIR=/data/releases \
    CURATION_MEDIA_ROOT=/data/media \
    GUNICORN_BIND=0.0.0.0:8000
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /data/releases /data/media \
 && chown -R app:app /data
COPY --from=build /opt/venv /opt/venv
# The code and static files stay root-owned: the app user can read them, not change them.
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
VOLUME ["/data"]
# /healthz answers when the process does; /readyz (database, cache, broker, a worker,
# storage) is for the load balancer or orchestrator's readiness probe. The probe names the
# first allowed host (Django answers 400 to an unknown Host header).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request as u; host = os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); r = u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4); sys.exit(r.status != 200)"]
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]

# The one image behind every application service in docker-compose.yml.
FROM python:3.13-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/data/var \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/static-collected

WORKDIR /app
RUN useradd --create-home --uid 1000 app && mkdir -p /data && chown app:app /data

COPY pyproject.toml README.md ./
COPY gallery ./gallery
COPY seedream ./seedream
RUN pip install -e .

COPY manage.py Procfile ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings to load; this key exists only inside this build step.
RUN SECRET_KEY=collectstatic-only-build-time-key-not-used-at-runtime VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput --verbosity 0 && rm -rf /tmp/build-var

USER app
EXPOSE 8000
CMD ["gunicorn", "gallery.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--logger-class", "gallery.logging.GunicornLogger"]

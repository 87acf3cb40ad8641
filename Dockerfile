# syntax=docker/dockerfile:1
# Klosesales app image: `klosesales serve` by default, `klosesales worker` or
# `klosesales migrate` as the command for the other roles (see docker-compose.yml and
# docs/deployment.md). Docker cannot run on the build machine: tests/deploy/test_image.py
# replays this file's COPY and RUN steps into a temporary folder and a fresh virtualenv,
# then starts the app from there, so keep to the instructions it understands
# (ENV, WORKDIR, COPY, RUN of python -m venv / pip install / uv pip install / mkdir /
# useradd / chown).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The app runs from its own virtualenv, never the system site-packages.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# The whole app; .dockerignore keeps out local state, caches and tests.
COPY . /app
# Non-editable install, pinned by the constraints CI tested, by uv (the same set pip
# would install, in seconds); its cache is a BuildKit cache mount, so it speeds up
# rebuilds without landing in the image.
RUN --mount=type=cache,target=/root/.cache/uv pip install uv==0.13.9 \
    && uv pip install --python /opt/venv/bin/python -c constraints.txt /app

# Code stays root-owned and read-only to the app; only its data, Chainlit's upload
# folder and Chainlit's generated translations are writable.
RUN useradd --system --create-home --uid 10001 --user-group klose \
    && mkdir -p /app/.data /app/.files /app/.chainlit/translations \
    && chown -R klose:klose /app/.data /app/.files /app/.chainlit/translations

# Chainlit reads chainlit.md and .chainlit/config.toml from here (not the cwd).
ENV CHAINLIT_APP_ROOT=/app \
    DATA_DIR=/app/.data

USER klose
# Generated secrets (when not configured) and the embedded database (when no
# DATABASE_URL) live here; a fleet shares one volume or configures its secrets.
VOLUME ["/app/.data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py", "http://127.0.0.1:8000/healthz"]
CMD ["klosesales", "serve", "--host", "0.0.0.0", "--port", "8000"]

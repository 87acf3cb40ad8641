#!/usr/bin/env bash
# Installs everything the tests need into .venv, then runs lint, types and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The browser tests drive Debian's Chromium (never a downloaded browser build).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The simulated carrier speaks its call recordings with Debian's espeak-ng (1.51).
if ! command -v espeak-ng >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
fi
# The load-balancer tests run deploy/Caddyfile with Debian's Caddy (2.6.2, as compose pins).
if ! command -v caddy >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# uv installs the same pinned set as pip would, in seconds rather than minutes.
[ -x .venv/bin/uv ] || .venv/bin/pip install -q uv
.venv/bin/uv pip install -q -p .venv --reinstall-package klosesales -c constraints.txt -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy core accounts billing telephony retrieval insights campaigns integrations tools chat_app
# Two workers (this machine's cores), each test file whole on one of them; every worker
# has its own database on the one embedded PostgreSQL. TEST_WORKERS=0 runs in one process.
.venv/bin/pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-2}" --dist loadfile "$@"

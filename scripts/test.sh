#!/usr/bin/env bash
# Installs everything the tests need into .venv, then runs lint, types and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -c constraints.txt -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/mypy core accounts billing tools chat_app
.venv/bin/pytest -q -p no:cacheprovider "$@"

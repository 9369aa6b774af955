#!/usr/bin/env bash
# Quick start: install, migrate, create the demo administrator and project, publish the household
# survey, and serve on http://127.0.0.1:8000 or $PORT (SQLite under ./instance unless HAMLET_DATABASE_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
.venv/bin/hamlet db upgrade
.venv/bin/hamlet demo --host "${HAMLET_HOST:-127.0.0.1}" --port "${PORT:-8000}"
exec .venv/bin/hamlet serve --host "${HAMLET_HOST:-127.0.0.1}" --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-2}"

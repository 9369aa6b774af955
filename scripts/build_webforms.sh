#!/usr/bin/env bash
# Builds the browser bundle of ODK Web Forms that the fill and edit pages load
# (server/web/static/webforms/, committed, so running Hamlet needs no Node.js). Needs Node.js 20+
# and npm; installs exactly the versions pinned in webforms/package-lock.json, builds with Vite and
# writes the bundled packages' licences next to the bundle (docs/web-forms.md).
set -euo pipefail
cd "$(dirname "$0")/../webforms"
npm ci --no-audit --no-fund
npx vite build
node scripts/licenses.mjs ../server/web/static/webforms/LICENSES.txt
ls -l ../server/web/static/webforms/

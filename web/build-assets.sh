#!/bin/sh
# Builds web/static/ (embedded in the dsr binary) from the npm packages
# pinned in package-lock.json, plus web/src/. Run from anywhere:
#   web/build-assets.sh
# It needs node and npm; `go run . dev` and `go build` do not, because
# web/static/ is committed. Rerunning it on the same lock file gives the
# same files, byte for byte.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
node build-assets.mjs

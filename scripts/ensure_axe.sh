#!/usr/bin/env bash
# axe-core (the accessibility engine of tests/test_accessibility.py) from the npm registry into
# _offline/axe; the test injects node_modules/axe-core/axe.min.js into every page.  Pinned to one minor
# version so that a new rule never fails a build unannounced.
set -euo pipefail
dir=_offline/axe
want=4.14
if [ -f "$dir/node_modules/axe-core/axe.min.js" ] && grep -q "\"version\": \"$want\." "$dir/node_modules/axe-core/package.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to fetch axe-core: install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
npm install --prefix "$dir" --no-audit --no-fund --silent "axe-core@$want"
echo "==> axe-core $(grep '"version"' "$dir/node_modules/axe-core/package.json" | head -1 | tr -dc '0-9.') in $dir"

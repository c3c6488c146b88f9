#!/usr/bin/env bash
# Fetch the page JavaScript (MathJax 3, require.js, the ipywidgets HTML manager) from the npm
# registry into _offline/site/vendor, which _config.yml serves as static files (html_static_path -> _build/html/_static/vendor).
set -euo pipefail
site=_offline/site/vendor
if [ -f "$site/.complete" ]; then exit 0; fi
command -v npm >/dev/null || { echo "npm is needed to fetch the page JavaScript: install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
npm install --prefix _offline/npm --no-audit --no-fund --silent \
  mathjax@3 requirejs@2.3 @jupyter-widgets/html-manager@1.0
rm -rf "$site" && mkdir -p "$site/html-manager" "$site/widgets-cdn"
nm=_offline/npm/node_modules
cp -r "$nm/mathjax/es5" "$site/mathjax"
cp "$nm/requirejs/require.js" "$site/require.js"
cp "$nm/@jupyter-widgets/html-manager/dist/"* "$site/html-manager/"
touch "$site/.complete"
echo "==> page JavaScript in $site"

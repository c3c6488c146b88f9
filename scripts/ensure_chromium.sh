#!/usr/bin/env bash
# Headless Chromium for tests/test_site.py: Debian's `chromium` (Playwright drives it through
# executable_path, so no browser download). Installs it with apt when root and missing.
set -euo pipefail
bin=${COURSE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian package chromium"
    t0=$(date +%s)
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    echo "==> chromium installed in $(( $(date +%s) - t0 )) s"
  else
    echo "Chromium is missing at $bin: install it (apt-get install chromium) or set COURSE_CHROMIUM" >&2
    exit 1
  fi
fi
"$bin" --version

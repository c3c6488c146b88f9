#!/usr/bin/env bash
# Headless Chromium for tests/test_site.py: $COURSE_CHROMIUM (e.g. a CI runner's Chrome), else Debian's
# `chromium` (Playwright drives it through executable_path, so no browser download), installed with apt
# (as root, or with sudo) when missing.
set -euo pipefail
bin=${COURSE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$bin" ]; then
  echo "==> installing the chromium package"
  t0=$(date +%s)
  if ! bash "$(dirname "$0")/sudo_apt.sh" chromium; then
    echo "Chromium is missing at $bin: install it (apt-get install chromium) or set COURSE_CHROMIUM" >&2
    exit 1
  fi
  echo "==> chromium installed in $(( $(date +%s) - t0 )) s"
fi
"$bin" --version

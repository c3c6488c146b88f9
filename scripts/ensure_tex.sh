#!/usr/bin/env bash
# TeX Live for `make pdf` (xelatex route, offline): installs the Debian packages when root and missing.
set -euo pipefail
pkgs="texlive-xetex texlive-latex-extra texlive-fonts-recommended texlive-plain-generic lmodern latexmk fonts-freefont-otf poppler-utils"
if ! command -v xelatex >/dev/null || ! command -v latexmk >/dev/null || ! command -v pdftotext >/dev/null \
   || ! fc-list 2>/dev/null | grep -qi FreeSerif; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing TeX Live (xelatex) and FreeFont from Debian"
    t0=$(date +%s)
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
    echo "==> TeX installed in $(( $(date +%s) - t0 )) s"
  else
    echo "make pdf needs: $pkgs (Debian package names); install them or run as root" >&2
    exit 1
  fi
fi
xelatex --version | head -1

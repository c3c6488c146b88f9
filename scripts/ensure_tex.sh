#!/usr/bin/env bash
# TeX Live for `make pdf` (xelatex route, offline): installs the Debian packages when missing
# (as root, or with sudo on a CI runner).
set -euo pipefail
pkgs="texlive-xetex texlive-latex-extra texlive-fonts-recommended texlive-plain-generic lmodern latexmk fonts-freefont-otf poppler-utils"
if ! command -v xelatex >/dev/null || ! command -v latexmk >/dev/null || ! command -v pdftotext >/dev/null \
   || ! fc-list 2>/dev/null | grep -qi FreeSerif; then
  echo "==> installing TeX Live (xelatex) and FreeFont"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  if ! bash "$(dirname "$0")/sudo_apt.sh" $pkgs; then
    echo "make pdf needs: $pkgs (Debian/Ubuntu package names)" >&2
    exit 1
  fi
  echo "==> TeX installed in $(( $(date +%s) - t0 )) s"
fi
xelatex --version | head -1

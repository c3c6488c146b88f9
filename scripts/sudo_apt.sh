#!/usr/bin/env bash
# Install Debian/Ubuntu packages: as root directly, else through `sudo -n` (GitHub's hosted runners
# allow it without a password). Exit 3 when neither is possible, so the caller can explain or fall back.
#   scripts/sudo_apt.sh PACKAGE...
set -euo pipefail
if ! command -v apt-get >/dev/null; then
  echo "apt-get is not available here: install $* with your system's package manager" >&2
  exit 3
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "cannot install $* (not root, and sudo needs a password): install them yourself" >&2
  exit 3
fi
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null

#!/usr/bin/env bash
# Make Fashion-MNIST available: Debian's dataset-fashion-mnist (as root, or with sudo) when apt has it,
# otherwise torchvision's download (online). Then load it once to verify the checksums.
set -euo pipefail
PY=${1:-.venv/bin/python}
DEB=/usr/share/datasets/fashion-mnist
if [ ! -f "$DEB/train-images-idx3-ubyte.gz" ] && [ -z "${COURSE_DATA:-}" ]; then
  echo "==> trying the Debian package dataset-fashion-mnist"
  bash "$(dirname "$0")/sudo_apt.sh" dataset-fashion-mnist 2>/dev/null \
    || echo "==> not installable here: torchvision will download Fashion-MNIST (needs internet)"
fi
"$PY" -c "from course_utils.data import load_fashion_mnist as f; d = f(device='cpu'); print('==> Fashion-MNIST ready:', d.source)"

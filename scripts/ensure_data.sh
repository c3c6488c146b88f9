#!/usr/bin/env bash
# Make Fashion-MNIST available: Debian's dataset-fashion-mnist when we are root with apt,
# otherwise torchvision's download (online). Then load it once to verify the checksums.
set -euo pipefail
PY=${1:-.venv/bin/python}
DEB=/usr/share/datasets/fashion-mnist
if [ ! -f "$DEB/train-images-idx3-ubyte.gz" ] && [ -z "${COURSE_DATA:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian package dataset-fashion-mnist"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "==> no local Fashion-MNIST: torchvision will download it (needs internet)"
  fi
fi
"$PY" -c "from course_utils.data import load_fashion_mnist as f; d = f(device='cpu'); print('==> Fashion-MNIST ready:', d.source)"

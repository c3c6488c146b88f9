#!/usr/bin/env bash
# Build the book in a private copy of the tree (for parallel work): /tmp/build-NAME.
# Shares the training-results cache of this checkout through COURSE_CACHE.
# usage: scripts/private_build.sh NAME   -> prints the html folder
set -euo pipefail
name=${1:?usage: scripts/private_build.sh NAME}
src=$(cd "$(dirname "$0")/.." && pwd)
dst=/tmp/build-$name
mkdir -p "$dst"
rsync -a --delete --exclude .venv --exclude _build --exclude .cache --exclude _offline --exclude .git "$src/" "$dst/"
ln -sfn "$src/_offline" "$dst/_offline"
cd "$dst"
export COURSE_CACHE="$src/.cache" COURSE_PROGRESS=0
# as `make build` does: paired .ipynb + provenance cell for every chapter (in this copy only)
"$src/.venv/bin/python" scripts/sync_notebooks.py >/dev/null
"$src/.venv/bin/jupyter-book" build . -W -n --keep-going 2>&1 | tail -40
echo "HTML: $dst/_build/html"

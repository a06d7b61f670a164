#!/usr/bin/env bash
# The wheels the lent GPU machine lacks for scripts/gpu_check.sh, fetched here into .whl/ (git-ignored; carried with
# carry=[".whl"]): segmentation-models-pytorch (its needs - huggingface-hub, safetensors, timm, torchvision, pillow,
# numpy, tqdm - are on the machine) and cityscapesscripts, whose label table thesislib reads (installed with
# --no-deps: none of its needs is imported by that table; never the `typing` backport, which would shadow the
# standard library under pip --target). Versions: this venv's.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
pin() { "$PY" -c "import importlib.metadata as m; print('$1==' + m.version('$1'))"; }
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl \
    "$(pin segmentation-models-pytorch)" "$(pin cityscapesscripts)"
ls -la .whl && du -sh .whl

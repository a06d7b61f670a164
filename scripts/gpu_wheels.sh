#!/usr/bin/env bash
# The wheels the lent GPU machine lacks, fetched here into .whl/ (git-ignored; carried with carry=[".whl"]):
#
#   scripts/gpu_wheels.sh             # for scripts/gpu_check.sh (0.6 MB)
#   scripts/gpu_wheels.sh reproduce   # also for scripts/gpu_reproduce.sh: the notebooks' Jupyter stack (~14 MB)
#
# Always segmentation-models-pytorch (its needs - huggingface-hub, safetensors, timm, torchvision, pillow, numpy,
# tqdm - are on the machine) and cityscapesscripts, whose label table thesislib reads (installed with --no-deps:
# none of its needs is imported by that table; never the `typing` backport, which would shadow the standard
# library under pip --target). With `reproduce`, papermill and ipykernel with what they need, less what the
# machine's python3 already holds (/work/.library/device/KINDS.md, "Python packages already there"). Versions:
# this venv's for the packages named, pip's choice for Python 3.12 for their needs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ON_MACHINE="attrs certifi charset-normalizer click idna packaging psutil pygments python-dateutil pyyaml requests six
tqdm typing-extensions urllib3"
pin() { "$PY" -c "import importlib.metadata as m; print('$1==' + m.version('$1'))"; }
get() { "$PY" -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform any -d .whl "$@"; }
rm -rf .whl && mkdir -p .whl
get --no-deps "$(pin segmentation-models-pytorch)" "$(pin cityscapesscripts)"
if [ "${1:-}" = reproduce ]; then
    get "$(pin papermill)" "$(pin ipykernel)"
    for name in $ON_MACHINE; do                       # wheel names use _ for - and may differ in case
        find .whl -maxdepth 1 -iname "$(echo "$name" | tr - _)-[0-9]*.whl" -delete
    done
fi
ls -la .whl && du -sh .whl

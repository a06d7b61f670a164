#!/usr/bin/env bash
# The prepared device check (at most 8 minutes on one H100/H200): a fresh venv on the machine's own PyTorch
# (--system-site-packages: these machines cannot download), the package and the wheels it lacks there
# (WHEELS=folder, default .whl/; see the README), then scripts/gpu_check.py, whose JSON of figures goes to
# $OUT/gpu_check.json (or build/gpu-check/gpu_check.json).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/tmp/thesislib-gpu-venv}
WHEELS=${WHEELS:-.whl}
python3 -m venv --system-site-packages "$VENV"
if [ -d "$WHEELS" ]; then
    "$VENV/bin/pip" install -q --no-index --no-deps --find-links "$WHEELS" "$WHEELS"/*.whl
fi
"$VENV/bin/pip" install -q --no-index --no-deps --no-build-isolation -e . \
    || { echo "gpu_check: could not install the package (missing build tools?)"; exit 2; }
"$VENV/bin/python" -m ipykernel install --sys-prefix --name thesislib --display-name "Python (thesislib)" >/dev/null 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 480 "$VENV/bin/python" scripts/gpu_check.py "${OUT:-build/gpu-check}/gpu_check.json" --budget 460

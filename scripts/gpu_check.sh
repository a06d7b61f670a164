#!/usr/bin/env bash
# The device check in ONE call of the lent GPU machine (docs/gpu.md "The device check"); ends within 8 minutes.
# Here, once: `scripts/gpu_wheels.sh` (the 2 wheels the machine lacks into .whl/, git-ignored, 0.6 MB). Then:
#
#   run(command="bash scripts/gpu_check.sh", carry=[".whl"], timeout_s=540)
#
# No venv: the machine's python3 (torch, numpy, pandas, matplotlib, scikit-image, timm, tqdm) with the carried
# wheels installed by pip --no-index --no-deps --target /tmp/site and put on PYTHONPATH with this checkout. Every
# step is capped (timeout here, and per step in scripts/gpu_check.py); what comes back is $OUT: log.txt,
# figures.json, rates.json, check.png, paper_time.txt. Env: PYTHON (python3), WHEELS (.whl), SITE (/tmp/site),
# SIZE (paper | tiny: the CPU test), BUDGET (seconds for the steps, 430).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-check}
source scripts/gpu_site.sh && gpu_site "$OUT/log.txt"
timeout "$(( ${BUDGET:-430} + 30 ))" $PY scripts/gpu_check.py "$OUT" --size "${SIZE:-paper}" --budget "${BUDGET:-430}"
rc=$?
tail -n 40 "$OUT/log.txt"
exit $rc

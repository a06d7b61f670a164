#!/usr/bin/env bash
# `make reproduce` on the lent GPU machine in ONE call (docs/gpu.md "The whole thesis on one GPU"): the world, every
# stage of the profile (gpu: the default's experiment, four stages side by side), the seven notebooks, and back one
# archive of the tables, figures and executed notebooks. Here, once: `scripts/gpu_wheels.sh reproduce` (.whl/,
# git-ignored, ~16 MB). Then:
#
#   run(command="bash scripts/gpu_reproduce.sh", carry=[".whl"], timeout_s=600)
#
# No venv: the machine's python3 with the carried wheels installed by pip --no-index --no-deps --target /tmp/site
# and put on PYTHONPATH with this checkout; the notebooks run on the python3 kernel of that interpreter. The run is
# capped (LIMIT seconds); whatever it made by then is archived. $OUT receives log.txt (with the wall time of the
# stages and of each notebook) and reproduce.tar.gz. Env: PYTHON (python3), WHEELS (.whl), SITE (/tmp/site),
# PROFILE (gpu; smoke in the CPU test), LIMIT (510), THESISLIB_BUILD (build).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-reproduce}
PROFILE=${PROFILE:-gpu}
start=$(date +%s)
source scripts/gpu_site.sh && gpu_site "$OUT/log.txt"
timeout "${LIMIT:-510}" $PY -m thesislib reproduce --profile "$PROFILE" >>"$OUT/log.txt" 2>&1
rc=$?
echo "gpu_reproduce: rc $rc after $(( $(date +%s) - start )) s (wheels included)" >>"$OUT/log.txt"
# the archive: tables/ and figures/ (the checkout's, or build/<profile>/'s for the check profiles: smoke),
# notebooks/ (the executed copies) and logs/
build=$(realpath -m "${THESISLIB_BUILD:-build}")
exports=$PWD
[ -d "$build/$PROFILE/tables" ] && exports=$build/$PROFILE
args=()
for part in "$exports/tables" "$exports/figures" "$build/$PROFILE/notebooks" "$build/logs"; do
    [ -d "$part" ] && args+=(-C "$(dirname "$part")" "$(basename "$part")")
done
tar -czf "$OUT/reproduce.tar.gz" "${args[@]}" 2>>"$OUT/log.txt"
tail -n 25 "$OUT/log.txt"
exit $rc

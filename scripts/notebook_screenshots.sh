#!/usr/bin/env bash
# The executed notebooks as a reader sees them: each opened in JupyterLab in headless Chromium (one tall PNG a
# notebook) and converted to nbconvert HTML, for looking at before a release.
#
#   scripts/notebook_screenshots.sh [PROFILE] [OUT]      # after `make reproduce PROFILE=...`; defaults: smoke build/screenshots
#
# Needs chromium (Debian: apt-get install chromium) and the venv (`make setup`).
set -euo pipefail
profile=${1:-smoke}
out=$(realpath -m "${2:-build/screenshots}")
notebooks=build/$profile/notebooks
port=8899
ls "$notebooks"/*.ipynb >/dev/null 2>&1 || { echo "no executed notebooks in $notebooks: run make reproduce PROFILE=$profile first" >&2; exit 2; }
command -v chromium >/dev/null || { echo "chromium not found: apt-get install chromium" >&2; exit 2; }
mkdir -p "$out"

.venv/bin/jupyter lab --allow-root --no-browser --port $port --ServerApp.token= --ServerApp.password= \
  --ServerApp.root_dir="$notebooks" >"$out/jupyterlab.log" 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null' EXIT
for _ in $(seq 60); do curl -sf -o /dev/null "http://localhost:$port/lab" && break; sleep 1; done

for nb in "$notebooks"/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  # JupyterLab renders with JavaScript: give it virtual time; a tall window renders every cell
  timeout 120 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,7000 \
    --virtual-time-budget=25000 --screenshot="$out/$name.lab.png" "http://localhost:$port/lab/tree/$name.ipynb" \
    >/dev/null 2>&1
  .venv/bin/jupyter nbconvert --to html --log-level WARN --output-dir "$out" "$nb"
  echo "$name: $out/$name.lab.png, $out/$name.html"
done

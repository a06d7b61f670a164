# Sourced by scripts/gpu_check.sh and scripts/gpu_reproduce.sh on the lent GPU machine: `gpu_site LOG` notes the
# machine in LOG, installs the carried wheels ($WHEELS/*.whl) into $SITE with pip --no-index --no-deps --target
# (no venv: the machine's $PY keeps its own packages) and puts the checkout and $SITE on PYTHONPATH.
# Env: PYTHON (python3), WHEELS (.whl), SITE (/tmp/site).
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/site}

gpu_site() {
    mkdir -p "$SITE" "$(dirname "$1")"
    {
        date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
        echo "cores: $(nproc)"
        if compgen -G "$WHEELS/*.whl" >/dev/null; then
            timeout 90 $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
                --target "$SITE" "$WHEELS"/*.whl || echo "gpu_site: the wheels did not install"
        fi
    } >>"$1" 2>&1
    export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
}

# Two commands from a fresh clone:  make reproduce   and   make test
# PROFILE: empty lets the machine choose (gpu where CUDA is, else default); smoke | default | gpu | large | paper
PROFILE ?=
# where the stages run: local (one per core here) | slurm (one SLURM job per stage, through submitit)
EXECUTOR ?= local
# key=value profile fields for reproduce, tables/figures and status, e.g. ARGS="job_hours=12 stages_per_gpu=2"
# (where-it-runs fields - job_*, stages_per_gpu, num_workers, ram_cache_mb - keep the exports in tables/, figures/)
ARGS ?=
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

.PHONY: setup reproduce paper-check test lab tables figures exports thesis bench status ledger prune clean
# captions and headers of the tables and the preview: en | ko (not LANG: that is the shell's locale)
THESIS_LANG ?= en

# The venv is (re)built only when missing or when the dependency list changed: a second run installs nothing.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(PY) -m ipykernel install --sys-prefix --name thesislib --display-name "Python (thesislib)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

reproduce: $(STAMP)
	$(PY) -m thesislib reproduce $(if $(PROFILE),--profile $(PROFILE)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) \
	  --lang $(THESIS_LANG) --executor $(EXECUTOR) $(ARGS)

# the paper profile with a handful of steps on a small world at the real image sizes (CPU: see docs/paper.md)
paper-check: $(STAMP)
	$(PY) scripts/paper_check.py

test: $(STAMP)
	$(PY) -m pytest -q

# JupyterLab on working copies under build/lab/ (the tracked notebooks/ stay clean); LAB_ARGS="--no-browser ..."
lab: $(STAMP)
	$(PY) -m thesislib lab $(LAB_ARGS)

# one export pass for `make tables figures` (a recipe shared by two goals would run twice)
tables figures: exports
	@:
exports: $(STAMP)
	$(PY) -m thesislib reproduce $(if $(PROFILE),--profile $(PROFILE)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) \
	  --exports-only --lang $(THESIS_LANG) $(ARGS)

# every table and figure in an 11 pt A4 report (15 cm text width) -> build/thesis-preview.pdf (-ko.pdf);
# tables rendered from the CSVs of tables/ (or build/<profile>/ when tables/ has none); needs pdflatex
thesis: $(STAMP)
	$(PY) -m thesislib.tools.preview --lang $(THESIS_LANG)

bench: $(STAMP)
	$(PY) -m thesislib bench --out build/bench.json

status: $(STAMP)
	$(PY) -m thesislib status $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)

# a run longer than a machine lives, in sittings: NOTEBOOKS=05 SEEDS=0,1 first computes what the ledger lacks of
# those; then the build's finished stages go into ledger/<profile>/ (commit it), where every later run reads them
ledger: $(STAMP)
	$(PY) -m thesislib ledger $(if $(PROFILE),--profile $(PROFILE)) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS)) \
	  $(if $(SEEDS),--seeds $(SEEDS)) $(ARGS)

prune: $(STAMP)
	$(PY) -m thesislib status $(if $(PROFILE),--profile $(PROFILE)) --prune $(ARGS)

clean:
	rm -rf build

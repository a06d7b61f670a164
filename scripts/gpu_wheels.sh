#!/usr/bin/env bash
# The wheels a lent GPU machine lacks (its image has PyTorch, torchvision, timm, pandas, matplotlib, seaborn,
# scikit-image, tqdm, pyyaml; it cannot download), fetched here for its Python 3.12 into .whl/ (git-ignored),
# which scripts/gpu_check.sh installs: the package's own needs, and what Papermill needs to run the notebooks.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(segmentation-models-pytorch cityscapesscripts appdirs coloredlogs humanfriendly pyquaternion typing submitit
      papermill nbclient nbformat jupyter-client jupyter-core ipykernel ipython ipython-pygments-lexers tornado pyzmq
      traitlets comm debugpy matplotlib-inline nest-asyncio jedi parso pexpect ptyprocess prompt-toolkit wcwidth
      stack-data executing asttokens pure-eval tenacity entrypoints fastjsonschema jsonschema jsonschema-specifications
      referencing rpds-py platformdirs ipywidgets widgetsnbextension jupyterlab-widgets ansicolors)
PLATFORMS=()
for n in 17 27 28 34; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" --platform manylinux2014_x86_64 --platform any -d .whl "${PKGS[@]}"
du -sh .whl

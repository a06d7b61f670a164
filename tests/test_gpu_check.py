"""The device check (scripts/gpu_check.sh) in device-like conditions on the CPU: a bare interpreter (`python -S`, no
venv site) that sees only what the lent machine's python3 holds (KINDS.md: torch, numpy, pandas, matplotlib,
seaborn, scikit-image, timm, tqdm and what they need) plus the carried packages, no Jupyter, papermill or submitit;
the tiny size, the CPU fallback; every step within its cap, at most 8 files back, the estimates at the end."""
import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MACHINE = ("torch", "torchvision", "numpy", "pandas", "matplotlib", "seaborn", "scikit-image", "scipy", "timm",
           "tqdm", "pillow", "pyyaml", "huggingface-hub", "safetensors")
CARRIED = ("segmentation-models-pytorch", "cityscapesscripts")      # scripts/gpu_wheels.sh, installed --no-deps


def _name(text: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", text.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _closure(names) -> set[str]:
    """The distributions `names` need, themselves included (extras left out)."""
    seen, todo = set(), [_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [_name(r) for r in dist.requires or [] if "extra ==" not in r]
    return seen


def _link(dists, folder: Path) -> Path:
    """`folder` holding links to the top-level modules of `dists` (of this venv)."""
    folder.mkdir()
    for name in dists:
        dist = md.distribution(name)
        tops = {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")
                and not f.parts[0].endswith(".pth")}                  # modules and their .dist-info
        for top in tops:
            src = Path(dist.locate_file(top))
            if src.exists() and not (folder / top).exists():
                (folder / top).symlink_to(src)
    return folder


def test_the_device_check_runs_on_a_bare_python_with_the_carried_packages(tmp_path):
    machine = _link(_closure(MACHINE) - set(CARRIED), tmp_path / "machine")
    carried = _link(CARRIED, tmp_path / "site")
    python = f"{sys.executable} -S"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(machine), "PYTHON": python,
           "OUT": str(tmp_path / "out"), "SITE": str(carried), "WHEELS": str(tmp_path / "no-wheels"), "SIZE": "tiny",
           "BUDGET": "400", "GPU_CHECK_WORK": str(tmp_path / "work"), "CUDA_VISIBLE_DEVICES": ""}
    bare = subprocess.run([sys.executable, "-S", "-c", "import papermill"], env=env, capture_output=True)
    assert bare.returncode != 0                                     # device-like: no Jupyter stack
    done = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh")], env=env, capture_output=True, text=True,
                          timeout=500)
    out = tmp_path / "out"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["check.png", "figures.json", "log.txt", "paper_time.txt", "rates.json"]
    figures = json.loads((out / "figures.json").read_text())
    assert figures["device"] == "CPU (no CUDA)"
    steps = ("steps", "compile", "loader", "side", "kinds", "kinds_compile", "time")
    assert all("error" not in figures[step] for step in steps), figures
    assert figures["compile"] == figures["kinds_compile"] == {"skipped": "torch.compile is measured on CUDA only"}
    assert 0 < figures["loader"]["gpu_busy_share"] <= 1 and figures["side"]["side_by_side"] > 0
    rates = json.loads((out / "rates.json").read_text())
    assert rates["paper"]["seg"] > 0 and rates["gpu"]["gan"] > 0 and "side_by_side" in rates["gpu"]
    estimates = (out / "paper_time.txt").read_text()
    assert "profile paper" in estimates and "profile gpu" in estimates and "wall on" in estimates


def test_the_whole_reproduce_runs_on_a_bare_python_with_the_carried_jupyter_stack(tmp_path):
    """scripts/gpu_reproduce.sh as on the device (smoke size, CPU): stages, the seven notebooks on the bare
    interpreter's python3 kernel, one archive back."""
    import tarfile
    carried = set(CARRIED) | _closure(["papermill", "ipykernel"]) - _closure(MACHINE)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHON": f"{sys.executable} -S",
           "PYTHONPATH": str(_link(_closure(MACHINE) - carried, tmp_path / "machine")),
           "SITE": str(_link(carried, tmp_path / "site")), "WHEELS": str(tmp_path / "no-wheels"),
           "OUT": str(tmp_path / "out"), "PROFILE": "smoke", "THESISLIB_BUILD": str(tmp_path / "build"),
           "CUDA_VISIBLE_DEVICES": "", "THESISLIB_KERNEL": "python3"}
    spec = tmp_path / ".local" / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"   # a bare kernel too
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                "display_name": "Python 3 (bare)", "language": "python"}))
    done = subprocess.run(["bash", str(REPO / "scripts" / "gpu_reproduce.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    log = (tmp_path / "out" / "log.txt").read_text()
    assert done.returncode == 0, log[-4000:]
    assert "kernel python3" in log and "done: 7 notebooks" in log and re.search(r"gpu_reproduce: rc 0 after \d+ s", log)
    with tarfile.open(tmp_path / "out" / "reproduce.tar.gz") as archive:
        names = archive.getnames()
    assert sum(n.startswith("notebooks/") and n.endswith(".ipynb") for n in names) == 7, names
    assert "tables/table_self_training.tex" in names and "figures/fig_per_class_iou.pdf" in names, names

"""The package's setup files agree with each other."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_pyproject_dependencies():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(deps) == sorted(pip_deps)          # same names and the same pins
    assert {_name(d) for d in deps} >= {"torch", "torchvision", "segmentation-models-pytorch", "papermill",
                                          "jupyterlab", "matplotlib", "seaborn", "pandas", "nbconvert"}


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_readme_is_short_and_links_its_docs():
    """A newcomer reads the README in five minutes; everything else is in docs/, each file linked from it."""
    import re
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    linked = set(re.findall(r"\]\((docs/[^)#]+)", readme))
    assert {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= linked
    assert all((ROOT / p).exists() for p in linked - {"docs/gpu.md"})      # gpu.md: written on another branch

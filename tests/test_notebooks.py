"""The notebooks: committed without outputs, parameterised for Papermill; the smoke profile runs all of
them end to end (once per session) and every table and figure they export exists and parses; the runner
reports a failing notebook and its cell; a sweep collects its results."""
import ast
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from PIL import Image

from thesislib.report.thesis import read_table
from thesislib.runs import pipeline
from thesislib.runs.lab import Lab
from thesislib.tools import sweep

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# the smoke test's own build folder: its cache persists between sessions, it never touches build/<profile>
# of a real run (default tables/ and figures/ are not written by the smoke profile)
TEST_BUILD = REPO / "build" / "test"

EXPECTED_NOTEBOOKS = ["01_datasets", "02_image_translation", "03_direct_transfer", "04_domain_adaptation",
                      "05_self_training", "06_data_dependency", "07_comparison"]
TABLES = ["table_4_1_datasets", "table_4_3_direct_transfer", "table_4_4_per_class_iou", "table_self_training",
          "table_data_dependency", "table_published_comparison", "table_published_semisupervised",
          "table_reported_vs_reproduced", "table_reported_vs_reproduced_direct"]
FIGURES = ["fig_samples", "fig_class_frequency", "fig_translation", "fig_direct_transfer", "fig_per_class_iou",
           "fig_self_training_rounds", "fig_pseudo_label_quality", "fig_predictions", "fig_data_dependency"]
COMMON_PARAMETERS = {"profile": "default", "data_root": None, "exports_only": False, "results_path": None,
                     "overrides": None, "exports": None, "lang": "en"}


def read(path):
    return nbformat.read(path, as_version=4)


def parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return cells


def assigned(source: str) -> dict:
    """name -> literal value of the plain assignments in a parameters cell."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


# ---------------------------------------------------------------- committed notebooks (static)
def test_the_seven_notebooks_are_there():
    assert [p.stem for p in pipeline.notebooks(NOTEBOOKS)] == EXPECTED_NOTEBOOKS


@pytest.mark.parametrize("name", EXPECTED_NOTEBOOKS)
def test_notebook_is_committed_clean_and_parameterised(name):
    nb = read(NOTEBOOKS / f"{name}.ipynb")
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "commit notebooks without outputs"
    params = parameters_cell(nb)
    assert len(params) == 1 and params[0] is code[0], "the first code cell, and only it, is tagged `parameters`"
    values = assigned(params[0].source)
    import papermill as pm
    assert set(pm.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))) == set(values), \
        "papermill must parse every parameter (a dict default followed by a comment defeats its parser)"
    for k, v in COMMON_PARAMETERS.items():
        assert k in values and values[k] == v, f"{name}: parameter {k} should default to {v!r}"
    assert nb.metadata["kernelspec"] == {"name": "thesislib", "display_name": "Python (thesislib)", "language": "python"}
    intro = nb.cells[0]
    assert intro.cell_type == "markdown" and intro.source.startswith("# ")
    # up front: how long Run All trains on an empty cache, and that a cached rerun takes seconds
    assert "**Run time** (default profile, 2-core CPU" in intro.source.split("\n\n")[1]
    assert "opened alone on an empty cache" in intro.source
    assert "rerun takes seconds" in intro.source
    text = "\n".join(c.source for c in code)
    # the shared setup and the key-numbers hand-off: one call each (where the exports go is decided there)
    assert (f'lab, out = setup(profile, data_root, exports_only, results_path, build_dir, overrides, exports, lang, '
            f'"{name}")' in code[1].source)
    assert code[-1].source == "key_numbers(out, results_path)"
    assert "Lab(" not in text and "tables_dir" not in text and "figures_dir" not in text, \
        "only setup() decides where exports go"
    for training in (".backward(", "optimizer", "zero_grad", "for step in"):
        assert training not in text, f"{name}: no training loops in notebooks ({training!r})"
    # short cells that show the plan's rows or call thesislib.runs.chapters (which writes the exports)
    calls = [c.source for c in code[2:-1]]
    assert calls and all(len(c.splitlines()) <= 6 and re.search(r"\b(chapters\.|rows\(plan\.)", c) for c in calls), calls
    assert any(c.startswith("chapters.") for c in calls)
    if name != "01_datasets":
        assert f'lab.compute(plan.notebook("{name}", lab.profile' in code[1].source


def test_self_training_notebook_defaults_are_the_methods():
    """Notebook 05 at its defaults shows the thesis' self-training (its parameters are SelfTraining's defaults)."""
    from dataclasses import fields

    from thesislib.methods.self_training import SelfTraining
    values = assigned(parameters_cell(read(NOTEBOOKS / "05_self_training.ipynb"))[0].source)
    defaults = {f.name: f.default for f in fields(SelfTraining)}
    options = [k for k in values if k in defaults]
    assert len(options) >= 4
    for k in options:
        assert values[k] == defaults[k], f"05_self_training: {k}={values[k]!r}, the method's default is {defaults[k]!r}"


# ---------------------------------------------------------------- the smoke reproduction (slow, once)
@pytest.fixture(scope="module")
def smoke():
    """reproduce("smoke") into build/test once for this module: (exit code, printed output)."""
    import contextlib
    import io
    Lab("smoke", build_dir=TEST_BUILD).prune()              # keep the reused test cache from growing
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = pipeline.reproduce("smoke", build_dir=TEST_BUILD)
    print(buf.getvalue())
    return rc, buf.getvalue()


def test_smoke_reproduce_runs_every_notebook(smoke):
    rc, out = smoke
    assert rc == 0, out
    for name in EXPECTED_NOTEBOOKS:
        assert f"{name}.ipynb" in out and "ok" in out
        executed = read(TEST_BUILD / "smoke" / "notebooks" / f"{name}.ipynb")
        assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code"), name
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and 'profile = "smoke"' in injected[0].source
    assert "done: 7 notebooks" in out
    # the committed sources stay output-free
    assert all(not c.get("outputs") for c in read(NOTEBOOKS / "01_datasets.ipynb").cells if c.cell_type == "code")


@pytest.mark.parametrize("name", TABLES)
def test_smoke_tables_exist_and_parse(smoke, name):
    assert smoke[0] == 0
    tables = TEST_BUILD / "smoke" / "tables"
    tex = (tables / f"{name}.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\toprule" in tex and r"\bottomrule" in tex and r"\end{table}" in tex
    assert r"\caption{" in tex and r"\label{tab:" in tex
    assert "% profile: smoke" in tex and "% commit: " in tex
    assert tex.count("&") >= 2 and not re.search(r"\bnan\b", tex, re.IGNORECASE)
    csv, provenance = read_table(tables / f"{name}.csv")
    assert len(csv) > 0 and len(csv.columns) > 1
    # three hops from a number to its trainer: the header names the notebook and the function that made the
    # table, the function reads its rows from thesislib.runs.plan, whose stages' kinds name their trainers
    notebook, function = provenance["made_by"].split(" -> ")
    assert (REPO / notebook).is_file() and function.startswith("thesislib.runs.chapters.")
    import importlib
    assert callable(getattr(importlib.import_module("thesislib.runs.chapters"), function.rsplit(".", 1)[1]))
    assert "% made by: " + provenance["made_by"] in tex
    if "stage" in csv.columns:                          # rows keyed by stage, never by position
        from thesislib.runs.stages import KINDS
        named = csv["stage"].dropna().astype(str)
        assert len(named) and all(s.split("(")[0] in KINDS for v in named for s in v.split("; ") if s)


FIGURES_OF = {"01_datasets": ["fig_samples", "fig_class_frequency"], "02_image_translation": ["fig_translation"],
              "03_direct_transfer": ["fig_direct_transfer"], "04_domain_adaptation": ["fig_per_class_iou"],
              "05_self_training": ["fig_self_training_rounds", "fig_pseudo_label_quality", "fig_predictions"],
              "06_data_dependency": ["fig_data_dependency"], "07_comparison": []}


def test_executed_notebooks_show_every_figure_inline_and_the_rows_they_compare(smoke):
    """A reader of the executed notebooks sees each figure the notebook exports (one PNG output each, its caption
    as alternative text) and, where a chapter reads stages, the plan's rows as a table."""
    assert smoke[0] == 0 and sorted(sum(FIGURES_OF.values(), [])) == sorted(FIGURES)
    for name, figs in FIGURES_OF.items():
        nb = read(TEST_BUILD / "smoke" / "notebooks" / f"{name}.ipynb")
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        pngs = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(pngs) == len(figs), name
        alts = [o.metadata["image/png"]["alt"] for o in pngs]          # the figure's caption, as plain text
        assert all(alts) and not any("$" in a or "\\" in a for a in alts), (name, alts)
        if name != "01_datasets":
            shown = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("rows(plan.")]
            assert shown and all("text/html" in c.outputs[0]["data"] for c in shown), name


def test_smoke_exports_carry_provenance_and_no_machine_path(smoke):
    from thesislib.report import audit
    assert smoke[0] == 0
    for folder in ("tables", "figures"):
        assert audit.problems(TEST_BUILD / "smoke" / folder) == []
    curve, provenance = read_table(TEST_BUILD / "smoke" / "figures" / "fig_self_training_rounds.csv")
    assert "scores" not in curve.columns and provenance["made_by"].endswith("chapters.self_training_figures")


@pytest.mark.parametrize("name", FIGURES)
def test_smoke_figures_exist_and_open(smoke, name):
    assert smoke[0] == 0
    figs = TEST_BUILD / "smoke" / "figures"
    with Image.open(figs / f"{name}.png") as im:
        im.verify()
    with Image.open(figs / f"{name}.png") as im:
        assert im.width > 600 and im.height > 150
    assert (figs / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"


def test_smoke_table_contents_follow_the_thesis(smoke):
    assert smoke[0] == 0
    tables = TEST_BUILD / "smoke" / "tables"
    per_class = read_table(tables / "table_4_4_per_class_iou.csv")[0]
    assert set(per_class["class"]) >= set(__import__("thesislib.data.labels", fromlist=["x"]).CLASS_NAMES) | {"mIoU"}
    assert per_class["method"].nunique() == 8                           # 6 methods, self-training, oracle
    datasets = (tables / "table_4_1_datasets.tex").read_text()
    assert "GTA5" in datasets and "Cityscapes" in datasets and "& 19 &" in datasets
    published = read_table(tables / "table_published_comparison.csv")[0]
    assert published["Benchmark"].str.contains("embedded world, profile smoke").any()
    assert published["Benchmark"].str.contains("Cityscapes val, DeepLabV2-ResNet101").any()
    reported = read_table(tables / "table_reported_vs_reproduced.csv")[0]
    assert reported["reported"].notna().all() and reported["reproduced"].notna().any()
    assert len(reported) == len(pd.read_csv(REPO / "thesislib" / "reference" / "thesis_reported.csv"))


def _digests(*folders: Path) -> dict:
    import hashlib
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for d in folders if d.exists()
            for f in sorted(d.rglob("*")) if f.is_file()}


def test_changing_a_parameter_leaves_the_thesis_exports_untouched(smoke):
    """Notebook 03 run with the papermill command line's way (no thesis mark) and n_samples changed: its table
    and figure go to build/<profile>/explore/; the thesis exports (tables/, figures/ of the repository, and
    the smoke run's own) are unchanged, byte for byte."""
    assert smoke[0] == 0
    thesis = [REPO / "tables", REPO / "figures", TEST_BUILD / "smoke" / "tables", TEST_BUILD / "smoke" / "figures"]
    before = _digests(*thesis)
    explore = TEST_BUILD / "smoke" / "explore"
    out = TEST_BUILD / "smoke" / "explore-run" / "03_direct_transfer.ipynb"
    pipeline._execute(NOTEBOOKS / "03_direct_transfer.ipynb", out,
                      {"profile": "smoke", "build_dir": str(TEST_BUILD), "n_samples": 1}, pipeline.kernel_name())
    assert _digests(*thesis) == before
    assert (explore / "tables" / "table_4_3_direct_transfer.tex").exists()
    assert (explore / "figures" / "fig_direct_transfer.png").stat().st_mtime > out.stat().st_mtime - 600
    said = "".join(o.get("text", "") for c in read(out).cells if c.cell_type == "code" for o in c.outputs)
    assert "explore/tables" in said and "written only by `make reproduce`" in said


def test_executed_notebooks_show_numbers_and_keep_one_finished_bar_per_run(smoke):
    """One seed (smoke): the displayed tables hold numbers, not NaN; key numbers are plain numbers; the
    kernel is the package's; progress bars are widgets (their final state in the notebook's widget state),
    not thousands of stderr updates."""
    assert smoke[0] == 0
    for name in ("03_direct_transfer", "05_self_training"):
        nb = read(TEST_BUILD / "smoke" / "notebooks" / f"{name}.ipynb")
        shown = [o["data"].get("text/plain", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if o.get("output_type") == "execute_result"]
        assert shown and not any("NaN" in s or "nan ±" in s for s in shown), name
        assert "np.float64" not in shown[-1], name
        assert len([o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if o.get("output_type") == "stream" and o.get("name") == "stderr"]) <= 3, name
    assert pipeline.kernel_name() != "thesislib" or nb.metadata["kernelspec"]["name"] == "thesislib"


def test_exports_only_reuses_the_cache(smoke, capsys):
    assert smoke[0] == 0
    assert pipeline.reproduce("smoke", exports_only=True, build_dir=TEST_BUILD, only=["04"]) == 0
    assert "[1/1] 04_domain_adaptation.ipynb" in capsys.readouterr().out


def test_exports_only_without_a_cache_fails_clearly(tmp_path, capsys):
    rc = pipeline.reproduce("smoke", exports_only=True, build_dir=tmp_path / "build", only=["03"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAILED 03_direct_transfer.ipynb" in out and "StageMissing" in out
    assert "make reproduce" in out
    assert (tmp_path / "build" / "smoke" / "notebooks" / "03_direct_transfer.ipynb").exists()


# ---------------------------------------------------------------- runner behaviour on tiny notebooks
def write_notebook(path: Path, *sources: str, parameters: str = 'profile = "default"\nresults_path = None'):
    cells = [nbformat.v4.new_markdown_cell("# tiny")]
    p = nbformat.v4.new_code_cell(parameters)
    p.metadata["tags"] = ["parameters"]
    cells.append(p)
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_a_failing_notebook_stops_the_run_and_names_notebook_and_cell(tmp_path, capsys):
    nbs = tmp_path / "notebooks"
    marker = tmp_path / "ran_03"
    write_notebook(nbs / "01_fine.ipynb", "x = 1 + 1")
    write_notebook(nbs / "02_broken.ipynb", "y = 2", "z = 3\nraise ValueError('boom in the data')", "w = 4")
    write_notebook(nbs / "03_after.ipynb", f"open({str(marker)!r}, 'w').write('ran')")
    rc = pipeline.reproduce("smoke", notebooks_dir=nbs, build_dir=tmp_path / "build")
    out = capsys.readouterr().out
    assert rc != 0
    assert "[1/3] 01_fine.ipynb" in out and "FAILED 02_broken.ipynb" in out
    assert "ValueError: boom in the data" in out
    # cells: markdown, parameters, injected parameters, y = 2, *this* (In [4]: parameters, injected, y, z)
    assert "cell 4 (In [4]: 'z = 3')" in out
    kept = tmp_path / "build" / "smoke" / "notebooks" / "02_broken.ipynb"
    assert f"partially executed copy: {kept}" in out and kept.exists()
    executed = read(kept)
    assert any(o.get("ename") == "ValueError" for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert not marker.exists(), "notebooks after a failure must not run"
    assert not (tmp_path / "build" / "smoke" / "notebooks" / "03_after.ipynb").exists()


def test_sweep_collects_results_table_and_plot(tmp_path, capsys):
    nb = write_notebook(tmp_path / "tiny_sweep.ipynb",
                        "import json\nresults = {'double': a * 2, 'length': len(b) + a, 'nested': {'k': a}}",
                        "if results_path:\n    json.dump(results, open(results_path, 'w'))",
                        parameters='profile = "default"\nresults_path = None\na = 1\nb = "x"')
    rc = sweep.sweep(str(nb), {"a": [1, 2], "b": ["x", "yy"]}, profile="smoke", build_dir=tmp_path / "build")
    out = capsys.readouterr().out
    assert rc == 0, out
    folder = tmp_path / "build" / "sweeps" / "tiny_sweep"
    df = pd.read_csv(folder / "results.csv")
    assert len(df) == 4
    assert sorted(zip(df["a"], df["b"])) == [(1, "x"), (1, "yy"), (2, "x"), (2, "yy")]
    assert (df["double"] == 2 * df["a"]).all() and (df["length"] == df["b"].str.len() + df["a"]).all()
    assert (df["nested.k"] == df["a"]).all()
    assert (folder / "a=2,b=yy.ipynb").exists() and (folder / "a=2,b=yy.json").exists()
    tex = (folder / "sweep_tiny_sweep.tex").read_text()
    assert r"\begin{tabular}" in tex and "% profile: smoke" in tex
    with Image.open(folder / "sweep_tiny_sweep.png") as im:
        assert im.width > 300
    # a parameter the notebook does not declare is refused before anything runs
    assert sweep.sweep(str(nb), {"nope": [1]}, profile="smoke", build_dir=tmp_path / "build") == 2
    assert "no parameter(s) nope" in capsys.readouterr().out


def test_only_the_thesis_run_writes_the_thesis_exports(tmp_path):
    """`reproduce` passes exports="thesis"; the same notebook run any other way (papermill directly, a parameter
    changed, a profile field overridden) writes under build/<profile>/explore/."""
    nbs = tmp_path / "notebooks"
    write_notebook(nbs / "01_export.ipynb",
                   "from thesislib.runs.notebook import key_numbers, setup\n"
                   "lab, out = setup(profile, None, False, results_path, build_dir, overrides, exports)",
                   "out.tables_dir.mkdir(parents=True, exist_ok=True)\n(out.tables_dir / 'x.csv').write_text(str(n))",
                   "import numpy as np\nout.results['x'] = np.float64(n) / 3\nkey_numbers(out, results_path)",
                   parameters='profile = "default"\nresults_path = None\nbuild_dir = None\noverrides = None\n'
                              'exports = None\nn = 1')
    build = tmp_path / "build"
    assert pipeline.reproduce("smoke", notebooks_dir=nbs, build_dir=build) == 0
    assert (build / "smoke" / "tables" / "x.csv").read_text() == "1"
    executed = read(build / "smoke" / "notebooks" / "01_export.ipynb")
    assert executed.cells[-1].outputs[0]["data"]["text/plain"] == "{'x': 0.3333}"   # a plain number
    before = _digests(REPO / "tables", REPO / "figures")
    out = tmp_path / "run.ipynb"
    pipeline._execute(nbs / "01_export.ipynb", out, {"build_dir": str(build), "n": 2}, pipeline.kernel_name())
    assert (build / "default" / "explore" / "tables" / "x.csv").read_text() == "2"
    assert _digests(REPO / "tables", REPO / "figures") == before
    from thesislib.runs.notebook import setup
    assert setup("default", build_dir=build)[1].tables_dir == build / "default" / "explore" / "tables"
    thesis = setup("default", build_dir=build, exports="thesis")[1]
    assert (thesis.tables_dir, thesis.figures_dir) == (REPO / "tables", REPO / "figures")
    changed = setup("default", build_dir=build, exports="thesis", overrides={"steps": 3})[1]
    assert changed.tables_dir == build / "default" / "explore" / "tables"      # a changed profile: never the thesis'
    assert setup("default", results_path=str(tmp_path / "p.json"))[1].tables_dir == tmp_path / "p"
    for profile in ("smoke", "paper-check"):                                  # check profiles keep theirs in build/
        assert setup(profile, build_dir=build, exports="thesis")[1].tables_dir == build / profile / "tables"


def test_reproduce_with_a_tuple_override_reaches_every_notebook_with_that_profile(smoke, capsys):
    """The overrides reach the notebooks as the profile the stages were computed with (a tuple stays a tuple),
    and only what reads the changed field is computed again."""
    assert smoke[0] == 0
    rc = pipeline.reproduce("smoke", build_dir=TEST_BUILD, overrides={"st_real_share": (0.5, 0.5)}, only=["05"])
    out = capsys.readouterr().out
    assert rc == 0, out
    executed = read(TEST_BUILD / "smoke" / "notebooks" / "05_self_training.ipynb")
    said = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "changed: st_real_share=(0.5, 0.5)" in said
    table, provenance = read_table(TEST_BUILD / "smoke" / "explore" / "tables" / "table_self_training.csv")
    assert provenance["overrides"] == {"st_real_share": [0.5, 0.5]}


def test_lab_opens_working_copies_and_keeps_the_tracked_notebooks_clean(tmp_path):
    """`make lab` works on copies under build/lab/: an interactive session (edits, outputs, autosaves) changes
    only the copy; a copy is renewed when its notebook changes, an edited copy kept as .old.ipynb."""
    from thesislib.runs.notebook import lab_copies
    nbs, work = tmp_path / "notebooks", tmp_path / "lab"
    src = write_notebook(nbs / "05_x.ipynb", "y = 1")
    tracked = src.read_bytes()
    assert lab_copies(nbs, work) == ["05_x.ipynb: copied"]
    copy = work / "05_x.ipynb"
    nb = read(copy)                                    # a session: a parameter edited, the cell run, autosaved
    nb.cells[1].source = nb.cells[1].source.replace('"default"', '"smoke"')
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, copy)
    assert lab_copies(nbs, work) == [] and src.read_bytes() == tracked
    assert read(copy).cells[2].outputs                 # the session's copy is left as it is
    write_notebook(src, "y = 2")                       # the tracked notebook changes (a pull)
    assert lab_copies(nbs, work) == ["05_x.ipynb: the notebook changed; your edited copy is kept as 05_x.old.ipynb"]
    assert read(copy).cells[2].source == "y = 2" and read(work / "05_x.old.ipynb").cells[2].outputs


def test_an_unknown_profile_is_refused_before_any_notebook_runs(tmp_path, capsys):
    assert pipeline.reproduce("nope", build_dir=tmp_path) == 2
    out = capsys.readouterr().out
    assert "unknown profile 'nope'" in out and "[1/" not in out
    assert not (tmp_path / "nope").exists()

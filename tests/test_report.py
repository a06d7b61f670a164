"""Reporting: LaTeX tables with provenance, figure style and saving, the figure functions (fake data)."""
import subprocess
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from thesislib.data.labels import CLASS_NAMES, PALETTE  # noqa: E402
from thesislib.report import figures, style  # noqa: E402
from thesislib.report.tables import aggregate, git_commit, latex_escape, mean_std_frame, reference  # noqa: E402

PROV = {"profile": "smoke", "params": "abc123def456", "seeds": [0, 1, 2], "data_root": "embedded world"}


def direct_transfer():
    df = pd.DataFrame({"Pixel accuracy": [72.1, 79.08, 95.83], "mIoU": [30.18, 36.27, 74.98]},
                      index=pd.Index(["Source (GTA5)", "Source→Target", "Target_val & co"], name="Evaluated on"))
    return df


# ---------------------------------------------------------------- tables
def test_mean_std_formatting_and_escaping():
    mean = pd.DataFrame({"mIoU": [30.18, np.nan]}, index=["a", "b"])
    shown = mean_std_frame(mean, pd.DataFrame({"mIoU": [0.5, np.nan]}, index=["a", "b"]))
    assert shown["mIoU"].tolist() == ["30.18 ± 0.50", "--"]
    assert mean_std_frame(mean)["mIoU"].tolist() == ["30.18", "--"]          # one seed: no spread shown
    assert latex_escape("a_b & 50%") == r"a\_b \& 50\%"


def test_aggregate_mean_and_std_over_seeds():
    raw = pd.DataFrame({"method": ["b", "b", "a", "a"], "seed": [0, 1, 0, 1], "metric": ["miou"] * 4,
                        "value": [1.0, 3.0, 2.0, 2.0]})
    mean, std = aggregate(raw, "method", "metric")
    assert mean.index.tolist() == ["b", "a"]                 # first-appearance order kept
    assert mean.loc["b", "miou"] == 2.0 and std.loc["b", "miou"] == pytest.approx(np.sqrt(2))
    assert std.loc["a", "miou"] == 0.0


def test_git_commit_outside_a_repository_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"


def test_git_commit_is_dirty_for_changed_code_but_not_for_rewritten_exports(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    for f in ("code.py", "tables/t.tex", "figures/f.csv"):
        (tmp_path / f).parent.mkdir(exist_ok=True)
        (tmp_path / f).write_text("a\n")
    git("add", ".")
    git("commit", "-qm", "x")
    clean = git_commit(tmp_path)
    (tmp_path / "tables/t.tex").write_text("b\n")
    (tmp_path / "figures/f.csv").write_text("b\n")
    assert git_commit(tmp_path) == clean and "+dirty" not in clean
    (tmp_path / "code.py").write_text("b\n")
    assert git_commit(tmp_path) == clean + "+dirty"


def test_reference_data():
    reported = reference("thesis_reported")
    assert reported.query("setting == 'gta5_cyclegan' and metric == 'miou'")["value"].item() == 44.42
    published = reference("published_gta5_to_cityscapes")
    assert {"method", "backbone", "miou", "source"} <= set(published.columns) and len(published) >= 10
    assert (reference("published_cityscapes_semisupervised")["labels"] > 0).all()


def test_save_writes_pdf_and_png_at_thesis_width(tmp_path):
    fig, ax = style.figure(0.5)
    ax.plot([0, 1], [0, 1])
    paths = style.save(fig, "fig_x", tmp_path / "figures")
    assert [p.name for p in paths] == ["fig_x.pdf", "fig_x.png"]
    assert (tmp_path / "figures" / "fig_x.pdf").read_bytes()[:5] == b"%PDF-"
    with Image.open(tmp_path / "figures" / "fig_x.png") as im:
        assert im.format == "PNG"
        assert 0.8 * style.TEXT_WIDTH * style.DPI < im.width <= 1.02 * style.TEXT_WIDTH * style.DPI
    assert fig.get_size_inches()[0] == pytest.approx(style.TEXT_WIDTH)
    assert not list((tmp_path / "figures").glob(".*")), "temporary files left behind"


def test_style_is_readable_and_colour_blind_safe():
    import seaborn as sns
    style.apply()
    assert 8 <= matplotlib.rcParams["font.size"] <= 10
    assert list(style.PALETTE) == list(sns.color_palette("colorblind"))


def test_overlay_uses_the_cityscapes_palette_and_leaves_ignored_pixels():
    image = np.zeros((4, 6, 3), np.float32)
    mask = np.zeros((4, 6), np.int64)
    mask[:, 3:] = 255
    out = figures.overlay(image, mask, alpha=1.0)
    assert np.allclose(out[0, 0], PALETTE[0] / 255.0)        # road colour
    assert np.allclose(out[0, 5], 0.0)                       # ignored: the image shows through
    chw = torch.rand(3, 4, 6)
    assert figures.to_rgb(chw).shape == (4, 6, 3)


def fake_items(n=2, h=16, w=32):
    g = np.random.default_rng(0)
    return [(torch.rand(3, h, w), torch.from_numpy(g.integers(0, 19, (h, w)))) for _ in range(n)]


def test_figure_functions_return_figures(tmp_path):
    g = np.random.default_rng(0)
    items = fake_items()
    made = {
        "samples": figures.sample_grid(items, items),
        "translation": figures.translation_samples([[i, i, i, i] for i, _ in items]),
        "predictions": figures.prediction_panel([[i, m, m, m] for i, m in items]),
        "class_frequency": figures.class_frequency({"source": g.integers(0, 1000, 19),
                                                    "target": {"a": g.integers(0, 9, 19), "b": g.integers(0, 9, 19)}}),
        "per_class": figures.per_class_iou(pd.DataFrame({"A": g.uniform(0, 90, 20), "B": g.uniform(0, 90, 20)},
                                                        index=CLASS_NAMES + ["mIoU"])),
        "rounds": figures.rounds_curve(pd.DataFrame({"round": [0, 1, 2, 0, 1, 2], "seed": [0, 0, 0, 1, 1, 1],
                                                     "miou": [30, 35, 37, 31, 36, 36]}),
                                       references={"oracle": 60.0, "source only": 20.0}),
        "quality": figures.pseudo_label_quality(
            pd.DataFrame({"round": [1, 2], "precision": [80, 75], "coverage": [40, 60]}),
            pd.DataFrame([{"round": r, "class": c, "precision": None if c == "train" else 70.0, "coverage": 50.0}
                          for r in (1, 2) for c in CLASS_NAMES])),
        "data_dependency": figures.data_dependency(pd.DataFrame(
            {"fraction": [1 / 16, 1 / 16, 1.0, 1.0], "method": ["a", "b", "a", "b"], "seed": 0,
             "miou": [20, 30, 60, 61]}), references={"teacher": 25.0, "below every point": 12.0}),
        "sweep": figures.sweep_plot(pd.DataFrame({"beta": [0.01, 0.05], "miou": [1.0, 2.0], "acc": [3.0, 4.0]}),
                                    "beta", ["miou", "acc"]),
    }
    for name, fig in made.items():
        assert isinstance(fig, Figure), name
        assert fig.get_size_inches()[0] == pytest.approx(style.TEXT_WIDTH), name     # all drawn 15 cm wide
    assert style.TEXT_WIDTH * 2.54 == pytest.approx(15.0)
    # label figures carry the 19-class palette legend and say what void pixels look like
    legend_texts = [t.get_text() for t in made["samples"].legends[0].get_texts()]
    assert legend_texts == CLASS_NAMES + ["void (not overlaid)"]
    assert [t.get_text() for t in made["predictions"].legends[0].get_texts()][-1] == figures.VOID_LABEL
    # a zero IoU is drawn (a dot on the axis), a missing one is not
    zero = figures.per_class_iou(pd.DataFrame({"A": [0.0, np.nan, 5.0], "B": [1.0, 2.0, 3.0]}, index=["x", "y", "mIoU"]),
                                 panels=1)
    dots = [line for line in zero.axes[0].get_lines() if line.get_marker() == "o"]
    assert sum(len(d.get_xdata()) for d in dots) == 1
    figures.close(zero)
    # eight methods over two panels, most with no zero: the layout keeps both panels (no collapsed axes)
    g = np.random.default_rng(1)
    many = pd.DataFrame(g.uniform(1, 90, (20, 8)), columns=[f"method {k}" for k in range(8)])
    many.iloc[3, 0] = 0.0
    fig = figures.per_class_iou(many)
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # "constrained_layout not applied because axes sizes collapsed"
        fig.canvas.draw()
    assert all(ax.get_position().height > 0.2 for ax in fig.axes)
    figures.close(fig)
    # saved at exactly the drawn size (no tight bounding box): 15 cm wide
    pdf = style.save(made["rounds"], "fig_rounds", tmp_path, formats=("pdf",))[0]
    import re as _re
    box = [float(v) for v in _re.search(rb"/MediaBox \[([^\]]+)\]", pdf.read_bytes()).group(1).split()]
    assert (box[2] - box[0]) / 72 * 2.54 == pytest.approx(15.0, abs=0.02)
    # data dependency: fractions on a log2 axis labelled as shares
    ax = made["data_dependency"].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1/16", "1"]
    assert ax.get_ylim()[0] < 12.0 < ax.get_ylim()[1]      # a reference below the curves stays in view
    # pseudo-label heatmaps keep every class, even one without pseudo-labels
    heat = made["quality"].axes[1]
    assert len(heat.get_yticklabels()) == 19
    paths = style.save(made["samples"], "fig_samples", tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)
    for fig in made.values():
        figures.close(fig)


def test_image_grid_rejects_mismatched_overlay():
    with pytest.raises(ValueError):
        figures.overlay(np.zeros((4, 6, 3)), np.zeros((5, 6), np.int64))


def test_korean_lettering_translates_every_text_of_a_figure():
    fig, ax = style.figure(0.4)
    ax.plot([0, 1], [1, 2], label="labeled only")
    ax.set_xlabel("round")
    ax.set_title("teacher (round 0)")
    fig.legend()
    figures.lettered(fig, "ko")
    texts = {t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()}
    assert {"라운드", "교사(라운드 0)", "레이블만"} <= texts and "round" not in texts
    assert figures.lettered(fig, "en") is fig
    figures.close(fig)


def test_a_korean_font_installed_after_matplotlibs_font_cache_is_found(monkeypatch):
    """matplotlib lists the fonts once and caches the list: fonts-nanum installed after that is still used."""
    from matplotlib import font_manager
    system = [p for p in font_manager.findSystemFonts() if "nanum" in p.lower()]
    if not system:
        pytest.skip("no Korean font installed (Debian: fonts-nanum; .ci/run installs it)")
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in style.FONTS["ko"]]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)       # the list cached before the install
    assert style.font_for("ko")[0] in style.FONTS["ko"]


def test_the_export_audit_finds_missing_provenance_and_machine_paths(tmp_path):
    from thesislib.report import audit
    from thesislib.report.thesis import csv_header
    prov = {"made_by": "notebooks/05_x.ipynb -> thesislib.runs.chapters.f", "commit": "abc", "profile": "smoke",
            "overrides": {}, "seeds": [0]}
    fig, ax = style.figure(0.5)
    ax.plot([0, 1], [0, 1])
    style.save(fig, "fig_ok", tmp_path, provenance=prov)
    figures.close(fig)
    (tmp_path / "fig_ok.csv").write_text(csv_header("fig_ok", prov, "en") + "a,b\n1,2\n")
    assert audit.problems(tmp_path) == []
    assert pd.read_csv(tmp_path / "fig_ok.csv", comment="#").columns.tolist() == ["a", "b"]
    (tmp_path / "fig_bare.csv").write_text("a,run_dir\n1,/work/main/build/cache/x\n")
    fig, _ = style.figure(0.5)
    style.save(fig, "fig_bare", tmp_path, formats=("pdf",))
    figures.close(fig)
    found = audit.problems(tmp_path)
    assert len(found) == 3 and all(f.startswith("fig_bare.") for f in found)
    assert any("machine path (/work/, build/" in f for f in found)     # (and the checkout's path, run from /work/...)


def test_paired_difference_gives_the_t_interval_over_seeds():
    from thesislib.report.tables import interval_text, paired_difference
    raw = pd.DataFrame([{"row": r, "seed": s, "value": v} for s, (a, b) in enumerate([(3, 1), (4, 1), (5, 1)])
                        for r, v in (("a", a), ("b", b))])
    d = paired_difference(raw, "a", "b")          # differences 2, 3, 4: mean 3, sd 1, t(0.975, 2) = 4.303
    assert d["seeds"] == 3 and d["mean"] == pytest.approx(3.0)
    assert d["high"] - d["mean"] == pytest.approx(4.3027 / 3 ** 0.5, rel=1e-4) and d["finding"]
    assert interval_text(d) == "+3.0 [0.5, 5.5]"
    one = paired_difference(raw[raw["seed"] == 0], "a", "b")
    assert interval_text(one) == "+2.0" and not one["finding"]        # one seed: no interval, never a finding


def test_faithfulness_calls_a_difference_a_finding_only_when_its_interval_excludes_0():
    import re
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(repo / "scripts/faithfulness.py"), str(repo / "tables")],
                         capture_output=True, text=True, check=True).stdout
    verdicts = re.findall(r"^  (.+): [+-]([\d.]+) \[(-?[\d.]+), (-?[\d.]+)\] over (\d+) seeds, (not a finding|finding)",
                          out, re.M)
    assert len(verdicts) >= 10 and any(v[0] == "self-training - control" for v in verdicts)
    for name, _, low, high, seeds, verdict in verdicts:
        excludes_0 = float(low) > 0 or float(high) < 0
        assert int(seeds) >= 2 and (verdict == "finding") == excludes_0, name


def test_chapter_5_goals_are_met_only_with_the_interval_and_every_learned_class_kept(tmp_path):
    from thesislib.runs.chapters import Exports, self_training_goals
    out = Exports(tmp_path, tmp_path)
    out.results.update({"miou_self_training_minus_control": 2.5, "miou_self_training_minus_control_low": -0.3,
                        "miou_self_training_minus_control_high": 5.3, "miou_self_training_minus_teacher": 4.2,
                        "miou_self_training_minus_teacher_low": 3.0, "miou_self_training_minus_teacher_high": 5.4,
                        "gap_closed_percent": 30.0, "classes_dropping_over_3": ["rider"]})
    goals = self_training_goals(out)
    assert goals["met"].tolist() == [False, True, False, False]          # +2.5 but its interval reaches below 0
    assert goals["measured"].tolist() == ["+2.5 [-0.3, 5.3]", "+4.2 [3.0, 5.4]", "30 %", "rider"]
    out.results.update({"miou_self_training_minus_control_low": 0.4, "classes_dropping_over_3": []})
    assert self_training_goals(out)["met"].tolist() == [True, True, False, True]


def test_chapter_differences_are_paired_by_seed_and_findings_only_when_the_interval_excludes_0(tmp_path):
    from thesislib.runs.chapters import Exports, _differences
    out = Exports(tmp_path, tmp_path)
    raw = pd.DataFrame([{"row": row, "seed": seed, "miou": v} for seed, (base, big, noisy) in
                        enumerate([(20, 23, 24), (30, 32, 27), (25, 28, 26)])
                        for row, v in (("base", base), ("big", big), ("noisy", noisy))])   # seeds differ by 10
    shown = _differences(out, raw, [("big", "base"), ("noisy", "base")], {"base": "B", "big": "G", "noisy": "N"})
    assert shown.index.tolist() == ["G − B", "N − B"] and shown["seeds"].tolist() == [3, 3]
    assert shown["finding"].tolist() == ["yes", "no"]           # +3, +2, +3 paired; +4, -3, +1 not
    assert shown.loc["G − B", "mIoU difference [95 % interval]"] == "+2.7 [1.2, 4.1]"
    assert out.results["miou_big_minus_base"] == pytest.approx(8 / 3) and out.results["miou_noisy_minus_base_low"] < 0


def test_the_readme_results_table_is_the_one_the_committed_tables_give():
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(repo / "scripts/results_table.py"), str(repo / "tables")],
                         capture_output=True, text=True, check=True).stdout
    table = [line for line in out.splitlines() if line.startswith("| ")]
    readme = (repo / "README.md").read_text()
    assert len(table) >= 9 and all(line in readme for line in table), "README.md: rerun scripts/results_table.py"


def test_no_committed_export_holds_a_machine_path():
    """The committed tables/ and figures/ (a thesis' \\input); their provenance headers are checked in full once the
    next full run regenerates them (the committed ones predate the figures' provenance)."""
    from pathlib import Path
    from thesislib.report import audit
    repo = Path(__file__).resolve().parents[1]
    found = audit.problems(repo / "tables") + audit.problems(repo / "figures")
    assert len(list((repo / "tables").glob("*.tex"))) >= 9 and len(list((repo / "figures").glob("*.pdf"))) >= 8
    assert [f for f in found if "machine path" in f] == []

"""The thesis tables rendered from CSVs (one style, en + ko) and the preview document compiled with
pdflatex: zero errors, overfull boxes and floats too large (skipped only where pdflatex is absent)."""
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from thesislib.report import text as T
from thesislib.report.thesis import TABLES, best_flags, pm, read_table, render_all
from thesislib.tools.preview import build, log_problems

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "tables"


def test_text_has_both_languages_for_every_key():
    for key, entry in T.TEXT.items():
        assert set(entry) == set(T.LANGS), key
    for name, entry in T.FIGURES.items():
        assert set(entry) == set(T.LANGS), name
    with pytest.raises(ValueError):
        T.t("miou", "fr")


def test_bold_rule_ties_zeros_and_exclusions():
    assert best_flags([0.01, 0.0, 0.0]) == [False, False, False]       # prints 0.0 everywhere: nothing bold
    assert best_flags([21.46, 21.5, 3.0]) == [True, True, False]        # equal as printed: both
    assert best_flags([5.0, 9.0], exclude=[1]) == [False, False]        # one competitor left: nothing to single out
    assert best_flags([5.0, 6.0, 9.0], exclude=[2]) == [False, True, False]
    assert pm([1.0, 2.0, 3.0])[0] == r"2.0 $\pm$ 1.0" and pm([4.04])[0] == "4.0"


@pytest.mark.parametrize("lang", T.LANGS)
def test_committed_tables_render_in_one_style(tmp_path, lang):
    paths = render_all(COMMITTED, lang, tmp_path)
    assert {p.stem for p in paths} == set(TABLES)
    for p in paths:
        tex = p.read_text()
        body = "\n".join(x for x in tex.splitlines() if not x.startswith("%"))
        assert r"\toprule" in body and r"\bottomrule" in body and r"\label{tab:" in body
        for word in ("seed(s)", "profile", "embedded", "thesislib", "Table 4", "CSV", "p{"):
            assert word not in body, (p.name, word)
        assert not re.search(r"\d\.\d\d\b", body.split(r"\begin{tabular}")[1]), p.name   # one decimal
        assert not re.search(r"\d+x\d+", body), p.name                                 # sizes with \times
        assert r"\textbf{0.0}" not in body
    if lang == "ko":
        assert "클래스" in (tmp_path / "table_4_4_per_class_iou.tex").read_text()


def test_published_tables_name_the_protocol(tmp_path):
    render_all(COMMITTED, "en", tmp_path)
    for name in ("table_published_comparison", "table_published_semisupervised"):
        tex = (tmp_path / f"{name}.tex").read_text()
        assert r"2048$\times$1024" in tex and "upsampled to the label resolution" in tex
        assert "labels never resized" in tex


def test_log_problems_counts():
    log = "Overfull \\hbox (3pt too wide) in paragraph\n! Undefined control sequence.\nLaTeX Warning: Float too large for page\n"
    p = log_problems(log)
    assert p["overfull"] == 1 and p["errors"] == 1 and p["float_too_large"] == 1


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (.ci/run installs it)")
@pytest.mark.parametrize("lang", T.LANGS)
def test_thesis_preview_compiles_clean(tmp_path, lang):
    if lang == "ko" and not shutil.which("kpsewhich"):
        pytest.skip("no kpsewhich")
    pdf, problems = build(lang, exports=REPO, out_dir=tmp_path)
    log = (tmp_path / f"thesis-{lang}" / "preview.log").read_text(errors="replace")
    assert pdf.exists(), log[-3000:]
    bad = {k: v for k, v in problems.items() if k != "underfull" and v}
    assert not bad, (bad, "\n".join(x for x in log.splitlines() if x.startswith(("!", "Overfull", "LaTeX Warning"))))


def test_reproduce_hands_lang_to_the_notebooks_that_declare_it(tmp_path, capsys):
    import nbformat
    from thesislib.runs import pipeline

    def write_notebook(path, source, parameters='profile = "default"'):
        p = nbformat.v4.new_code_cell(parameters)
        p.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[p, nbformat.v4.new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    nbs, got = tmp_path / "notebooks", tmp_path / "lang.txt"
    write_notebook(nbs / "01_tables.ipynb", f"open({str(got)!r}, 'w').write(lang)",
                   parameters='profile = "default"\nlang = "en"')
    write_notebook(nbs / "02_no_lang.ipynb", "x = 1")            # no `lang` parameter: not injected, still runs
    assert pipeline.reproduce("smoke", notebooks_dir=nbs, build_dir=tmp_path / "build", lang="ko") == 0
    assert got.read_text() == "ko"
    assert pipeline.reproduce("smoke", notebooks_dir=nbs, build_dir=tmp_path / "build", lang="fr") == 2


def test_write_thesis_table_writes_csv_and_korean_tex(tmp_path):
    from thesislib.report.thesis import write_thesis_table
    raw, provenance = read_table(COMMITTED / "table_self_training.csv")
    tex = write_thesis_table(raw, "table_self_training", tmp_path, {**provenance, "overrides": {"st_rounds": 3}}, "ko")
    text = tex.read_text()
    miou = raw[raw["metric"] == "miou"].groupby("row")["value"]
    best = miou.mean().drop("oracle").idxmax()
    cell = rf"\textbf{{{miou.mean()[best]:.1f} $\pm$ {miou.std()[best]:.1f}}}"    # the best mIoU, bold
    assert "% lang: ko" in text and "% profile: default" in text and "오라클" in text and cell in text
    assert "3라운드" in text                            # the caption follows the profile actually used (overrides)
    again, again_provenance = read_table(tmp_path / "table_self_training.csv")
    pd.testing.assert_frame_equal(again, raw)
    assert again_provenance["overrides"] == {"st_rounds": 3} and again_provenance["made_by"] == provenance["made_by"]

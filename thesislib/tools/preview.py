"""`make thesis`: build `build/thesis-preview.pdf` (or `-ko.pdf`) from thesis/preview.tex, with every table
rendered from the CSVs of an export folder and every figure of it, then check pdflatex's log.

Exports: `tables/` + `figures/` (the default profile's, committed) when they hold CSVs, else the first of
build/<profile>/{tables,figures} that exists; `--exports DIR` names a folder holding tables/ and figures/.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from thesislib.report import text as T
from thesislib.report.thesis import render_all

from thesislib.paths import REPO
DOC = REPO / "thesis" / "preview.tex"


def find_exports(exports=None) -> tuple[Path, Path]:
    """(tables dir, figures dir) of the exports to preview."""
    if exports:
        e = Path(exports)
        return e / "tables", e / "figures"
    candidates = [REPO] + sorted((REPO / "build").glob("*/")) if (REPO / "build").exists() else [REPO]
    for c in candidates:
        if list((c / "tables").glob("*.csv")):
            return c / "tables", c / "figures"
    raise FileNotFoundError("no exports found: run `make reproduce` (or PROFILE=smoke) first")


def log_problems(log: str) -> dict:
    """Counts of what the preview must not have, and of underfull boxes (reported, not an error)."""
    return {"errors": len(re.findall(r"^! ", log, re.M)),
            "overfull": len(re.findall(r"^Overfull \\[hv]box", log, re.M)),
            "float_too_large": len(re.findall(r"Float too large", log)),
            "undefined_refs": len(re.findall(r"LaTeX Warning: (?:Reference|Citation) .* undefined", log)),
            "missing_files": len(re.findall(r"File `[^']+' not found", log)),
            "underfull": len(re.findall(r"^Underfull \\[hv]box", log, re.M))}


def build(lang: str = "en", exports=None, out_dir=None, pdflatex: str = "pdflatex") -> tuple[Path, dict]:
    """Render, compile twice, return (pdf path, log_problems of the second run)."""
    T.check_lang(lang)
    tables, figures = find_exports(exports)
    out_dir = Path(out_dir or REPO / "build")
    work = out_dir / f"thesis-{lang}"
    if work.exists():
        shutil.rmtree(work)
    (work / "tables").mkdir(parents=True)
    render_all(tables, lang, work / "tables")
    caps = [f"\\expandafter\\def\\csname figcap:{n}\\endcsname{{{T.figure_caption(n, lang)}}}" for n in T.FIGURES]
    (work / "figcaptions.tex").write_text("\n".join(caps) + "\n")
    env = {**os.environ, "TEXINPUTS": os.pathsep.join([str(work / "tables"), str(figures.resolve()), str(work),
                                                        str(DOC.parent), ""])}
    pre = "\\def\\thesislangko{}" if lang == "ko" else ""
    for _ in range(2):
        subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-jobname=preview",
                        f"{pre}\\input{{preview.tex}}"], cwd=work, env=env, capture_output=True, timeout=300)
    log = (work / "preview.log").read_text(errors="replace") if (work / "preview.log").exists() else "! no log"
    problems = log_problems(log)
    pdf = out_dir / ("thesis-preview.pdf" if lang == "en" else f"thesis-preview-{lang}.pdf")
    if (work / "preview.pdf").exists():
        shutil.copyfile(work / "preview.pdf", pdf)
    else:
        problems["errors"] = max(problems["errors"], 1)
    return pdf, problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lang", default="en", choices=T.LANGS)
    p.add_argument("--exports", default=None, help="a folder with tables/ and figures/ (default: found)")
    a = p.parse_args(argv)
    if not shutil.which("pdflatex"):
        print("error: pdflatex not found (Debian: texlive-latex-base texlive-latex-recommended "
              "texlive-latex-extra texlive-fonts-recommended texlive-lang-korean)")
        return 2
    pdf, problems = build(a.lang, a.exports)
    print(f"{pdf}: " + ", ".join(f"{k} {v}" for k, v in problems.items()))
    bad = {k: v for k, v in problems.items() if k not in ("underfull",) and v}
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

r"""One figure style for the whole thesis: every figure is drawn 15 cm (5.91 in) wide, the text width of an
A4 thesis at 11 pt, so `\includegraphics[width=\textwidth]{...}` shows its lettering at 8-10 pt; saved at
exactly that size (no tight bounding box, which would change the width from figure to figure); the colour-blind-safe
seaborn "colorblind" palette. Every figure is made with `figure()` and written with `save()` (PDF for
LaTeX, PNG for notebooks and the web), atomically so a reader never sees a half-written file."""
import json
import os
import tempfile
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

TEXT_WIDTH = 15 / 2.54    # inches: the thesis' \textwidth (15 cm); every figure is this wide
DPI = 200                 # PNG resolution
PALETTE = sns.color_palette("colorblind")
FONT_SIZE = 9

RC = {
    "font.size": FONT_SIZE,
    "axes.titlesize": 10,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": FONT_SIZE,
    "figure.titlesize": 10,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "savefig.dpi": DPI,
    "savefig.bbox": "standard",   # exactly figsize: the width the lettering was chosen for
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,   # embed TrueType fonts (editable text, accepted by publishers)
    "ps.fonttype": 42,
    "figure.dpi": 100,
}


# fonts with the letters of a language the lettering may be in (Debian: fonts-nanum)
FONTS = {"ko": ["NanumGothic", "Noto Sans CJK KR", "UnDotum"]}


def font_for(lang: str) -> list[str]:
    """Font families for lettering in `lang`: the first installed of FONTS[lang], then the default; a warning
    names the package to install when none is."""
    from matplotlib import font_manager
    fonts = font_manager.fontManager
    installed = lambda: [name for name in FONTS.get(lang, []) if name in {f.name for f in fonts.ttflist}]  # noqa: E731
    found = installed()
    if lang in FONTS and not found:           # matplotlib's font list is cached at its first run: add fonts since
        for path in set(font_manager.findSystemFonts()) - {f.fname for f in fonts.ttflist}:
            try:
                fonts.addfont(path)
            except (OSError, RuntimeError, ValueError):   # a file FreeType cannot read: not a font for us
                pass
        found = installed()
    if lang in FONTS and not found:
        import warnings
        warnings.warn(f"no font with the letters of {lang!r} ({', '.join(FONTS[lang])}): install one "
                      "(Debian: apt-get install fonts-nanum) or the figures' lettering shows empty boxes")
    return found[:1] + [plt.rcParams["font.family"][0] if isinstance(plt.rcParams["font.family"], list)
                        else plt.rcParams["font.family"]]


def _quiet_font_subsetting() -> None:
    """fontTools reports every table it cannot subset when a PDF embeds a CJK font: not a problem, not shown."""
    import logging
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


def apply() -> None:
    """Make the thesis style the matplotlib default (called on import; call again after rcdefaults)."""
    plt.rcParams.update(RC)
    _quiet_font_subsetting()


def colors(n: int) -> list:
    """`n` colours of the colour-blind-safe palette (cycled if n > 10)."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def figure(height_ratio: float = 0.5, ncols: int = 1, nrows: int = 1, width: float = 1.0, **kw):
    """(fig, axes) of the thesis width times `width`, height = width * `height_ratio`."""
    apply()
    w = TEXT_WIDTH * width      # width < 1 only for figures meant to be included at that share of \textwidth
    kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(w, w * height_ratio), **kw)


def _atomic_savefig(fig, path: Path, **kw) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, format=path.suffix.lstrip("."), **kw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(fig, name: str, figures_dir, formats=("pdf", "png"), provenance: dict | None = None) -> list[Path]:
    """Write `figures_dir/<name>.pdf` and `.png` (dpi 200) atomically, with `provenance` (what made the figure,
    profile, overrides, commit, seeds) in their metadata; returns the paths."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = figures_dir / f"{name}.{fmt}"
        _atomic_savefig(fig, path, dpi=DPI, metadata=metadata(fmt, name, provenance or {}))
        paths.append(path)
    return paths


def metadata(fmt: str, name: str, provenance: dict) -> dict:
    """A figure file's metadata: Title (its name), Subject (the notebook and function that made it), Keywords
    (profile, overrides, commit, seeds, ...: "key: value; ..."); no date, so a PDF changes only with its content."""
    made_by = provenance.get("made_by", "thesislib")
    keywords = "; ".join(f"{k.replace('_', ' ')}: {json.dumps(v) if isinstance(v, (dict, list)) else v}"
                         for k, v in provenance.items() if k != "made_by")
    if fmt == "pdf":
        return {"Title": name, "Subject": made_by, "Keywords": keywords, "Creator": "thesislib", "CreationDate": None}
    if fmt == "png":
        return {"Title": name, "Software": "thesislib", "Description": made_by, "Comment": keywords}
    return {}


apply()

"""Reporting: one figure style (`style`), LaTeX tables with provenance (`tables`), the thesis' figures
(`figures`). Notebooks import from here; nothing in this package trains or caches anything."""
from thesislib.report.style import TEXT_WIDTH, figure, save
from thesislib.report.tables import Latex, latex_escape, mean_std, write_table

__all__ = ["TEXT_WIDTH", "figure", "save", "Latex", "latex_escape", "mean_std", "write_table"]

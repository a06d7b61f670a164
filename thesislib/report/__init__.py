"""Reporting: one figure style (`style`), the thesis' figures (`figures`), its tables rendered from their CSVs
(`thesis`, the one table writer), captions and lettering in English and Korean (`text`). Nothing in this
package trains or caches anything."""
from thesislib.report.style import TEXT_WIDTH, figure, save

__all__ = ["TEXT_WIDTH", "figure", "save"]

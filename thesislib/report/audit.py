"""Check an export folder (tables/, figures/, or a run's): every table CSV/TeX and figure CSV starts with the
provenance header, every figure PDF/PNG carries it in its metadata, and no file names a path of the machine
that made it.

  python -m thesislib.report.audit tables figures
"""
import re
import sys
from pathlib import Path

from thesislib.paths import REPO

PROVENANCE = ("notebooks/", " -> thesislib.runs.chapters.", "commit: ", "profile: ", "overrides: ", "seeds: ")
MACHINE_PATHS = ("/work/", "/tmp/", "/home/", "/root/", "build/", str(REPO))


def _header(text: str, mark: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith(mark):
            break
        lines.append(line[len(mark):])
    return "\n".join(lines)


def _metadata(path: Path) -> str:
    """The provenance a figure file carries: a PDF's Info strings, a PNG's text chunks."""
    if path.suffix == ".png":
        from PIL import Image
        with Image.open(path) as im:
            return "\n".join(f"{k}: {v}" for k, v in im.text.items())
    info = re.findall(rb"/(Title|Subject|Keywords|Creator) \((.*?)(?<!\\)\)", path.read_bytes())
    return "\n".join(f"{k.decode()}: {v.decode('latin-1')}" for k, v in info)


def problems(folder) -> list[str]:
    """What is wrong with the exports of `folder`, one line each (empty: nothing)."""
    found = []
    for path in sorted(Path(folder).glob("*")):
        kind = path.suffix
        if kind == ".csv":
            text = path.read_text()
            header = _header(text, "# ")
        elif kind == ".tex":
            text = path.read_text()
            header = _header(text, "% ")
        elif kind in (".pdf", ".png"):
            header = text = _metadata(path)
            if kind == ".pdf":
                text = path.read_bytes().decode("latin-1")
        else:
            continue
        missing = [p.strip() for p in PROVENANCE if p not in header]
        if missing:
            found.append(f"{path.name}: no {', '.join(missing)} in its provenance")
        leaked = [p for p in MACHINE_PATHS if p in text]
        if leaked:
            found.append(f"{path.name}: holds a machine path ({', '.join(leaked)})")
    return found


def main(argv=None) -> int:
    found = [p for folder in (argv or sys.argv[1:] or ["tables", "figures"]) for p in problems(folder)]
    print("\n".join(found) or "every export carries its provenance and no machine path")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

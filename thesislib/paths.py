"""Where the package writes: the build folder (THESISLIB_BUILD, or --build-dir, default <repo>/build)
and the check-data statistics of a data root (in the root, or in the build folder when it is read-only)."""
import hashlib
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK_FILE = "thesislib-check.json"   # written by `thesislib check-data KIND ROOT`


def build_root(build_dir=None) -> Path:
    """`build_dir`, else $THESISLIB_BUILD, else <repo>/build."""
    return Path(build_dir or os.environ.get("THESISLIB_BUILD") or REPO / "build")


def check_file(root) -> Path:
    """The check-data JSON of a data root: ROOT/thesislib-check.json when it exists or ROOT is writable,
    else build/checks/<name>-<hash of the path>.json (a read-only data root)."""
    root = Path(root)
    inside = root / CHECK_FILE
    if inside.exists() or os.access(root, os.W_OK):
        return inside
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return build_root() / "checks" / f"{root.name}-{key}.json"

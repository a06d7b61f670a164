"""Atomic file writes (a reader never sees a half-written output), a bounded pool of writer threads, and
the folder lock that lets two processes ask for one stage."""
import contextlib
import json
import os
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    import fcntl
except ImportError:          # not on Windows: no cross-process lock there
    fcntl = None


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def atomic_save_image(image, path: str | Path, **save_kwargs) -> None:
    """Save a PIL image through a temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format=save_kwargs.pop("format", "PNG"), **save_kwargs)
    os.replace(tmp, path)


@contextlib.contextmanager
def writer_pool(threads: int = 4, max_pending: int = 64):
    """`submit(fn, *args)` runs fn (a PNG write) in one of `threads` threads while the caller goes on
    (PIL's encoders release the GIL); at most `max_pending` writes wait, so memory stays bounded. A
    failed write raises in the caller."""
    pending = deque()
    with ThreadPoolExecutor(threads) as pool:
        def submit(fn, *args):
            pending.append(pool.submit(fn, *args))
            while len(pending) > max_pending:
                pending.popleft().result()
        yield submit
        while pending:
            pending.popleft().result()


@contextlib.contextmanager
def locked(d: Path):
    """An exclusive lock on folder `d` (released when the holder exits, even if it is killed)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        yield

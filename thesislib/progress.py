"""Progress bars named in words ("self-training · seed 1 · round 2"), one bar per training run.

The engine asks `bar(run_dir, total, initial)` for each run. What it gets depends on the process:
* a process that draws its own bars (a notebook kernel, the command line): a `tqdm.auto` bar, a widget in
  Jupyter (ipywidgets) and text elsewhere; it stays when done, so a notebook keeps one finished bar per run
  (a widget's output is updated when it closes: a saved notebook shows the final state, also as text);
* a worker of thesislib.runs.runner (`send_to(queue)`): a bar that sends its count to the parent through the queue; the
  parent's `Board` draws one bar per run, so two runs trained side by side never share a line.
The words come from `naming(label)` (the Lab names the stage it computes: "oracle · seed 0") and the round,
read from a run folder named roundK (self-training); without a label the run folder's name is used.
This module is not training code: changing it leaves the stage cache valid.
"""
import contextlib
import itertools
import os
import queue as queue_module
import re
import time
from pathlib import Path

from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

SEND_EVERY = 0.5            # seconds between two progress messages of a worker's bar
_label: str | None = None   # the run this process computes now, in words
_sink = None                # a multiprocessing queue in a runner worker: the parent draws the bars
_ids = itertools.count()


@contextlib.contextmanager
def naming(label: str):
    """Bars opened inside this block are named `label` (+ the round)."""
    global _label
    old, _label = _label, label
    try:
        yield
    finally:
        _label = old


def describe(run_dir) -> str:
    """The bar's name: the current label (or the run folder's name), and "round K" for a roundK folder."""
    run_dir = Path(run_dir)
    m = re.fullmatch(r"round(\d+)", run_dir.name)
    base = _label or (run_dir.parent.name if m else run_dir.name)
    if not m:
        return base
    k = int(m.group(1))
    return f"{base} · round {k}" + (" (teacher)" if k == 0 else "")


def bar(run_dir, total: int, initial: int = 0, disable: bool = False, task: str | None = None):
    """A progress bar for the run in `run_dir` (tqdm's update / set_postfix / close); `task` names a part
    of the run other than its training ("pseudo-labels", "translating")."""
    desc = describe(run_dir) + (f" · {task}" if task else "")
    if disable:
        return tqdm(total=total, initial=initial, desc=desc, disable=True)
    if _sink is not None:
        return _QueueBar(_sink, desc, total, initial)
    return _drawn(desc, total, initial)


def bar_class():
    """The bar class this process draws with: a widget in a Jupyter kernel with ipywidgets (tqdm.auto's
    choice), else text."""
    return _WidgetBar if issubclass(tqdm, notebook_tqdm) else tqdm


def _drawn(desc: str, total: int, initial: int = 0):
    return bar_class()(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=True)


@contextlib.contextmanager
def drawn_here(module):
    """While inside, `module`'s own `tqdm` (a plain-text bar, e.g. the embedded world's) is `bar_class()`."""
    from unittest import mock
    with mock.patch.object(module, "tqdm", bar_class()):
        yield


class _WidgetBar(notebook_tqdm):
    """tqdm's widget bar, displayed with a display id and re-displayed when it closes, so that a saved
    notebook's output (widget view and its text/plain fallback) holds the bar's final state."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, display=False, **kwargs)
        self._handle = None
        if not self.disable:
            from IPython.display import display
            self._handle = display(self.container, display_id=True)
            self.displayed = True

    def close(self):
        super().close()
        if getattr(self, "_handle", None) is not None:
            self._handle.update(self.container)
            self._handle = None


def send_to(sink) -> None:
    """In a worker process: bars report to `sink` (a multiprocessing queue) instead of drawing themselves."""
    global _sink
    _sink = sink


class _QueueBar:
    """A worker's bar: ("open", key, desc, total, initial), then ("update" | "close", key, n, postfix)."""

    def __init__(self, sink, desc: str, total: int, initial: int):
        self.sink, self.key, self.n, self.postfix, self._sent = sink, f"{os.getpid()}-{next(_ids)}", initial, {}, 0.0
        sink.put(("open", self.key, desc, total, initial))

    def set_postfix(self, postfix=None, **kw):
        self.postfix = {**(postfix or {}), **kw}

    def update(self, n: int = 1):
        self.n += n
        if time.monotonic() - self._sent >= SEND_EVERY:
            self._send("update")

    def close(self):
        self._send("close")

    def _send(self, what: str):
        self._sent = time.monotonic()
        self.sink.put((what, self.key, self.n, dict(self.postfix)))


class Board:
    """The parent's side: one `tqdm.auto` bar per worker run, drawn from the messages on `sink` (the
    scheduler, thesislib.runs.runner, calls `drain` while it waits)."""

    def __init__(self, sink):
        self.sink, self.bars = sink, {}

    def close(self) -> None:
        """Close every bar (a run that failed keeps its bar where it stopped)."""
        self.drain(0)
        for b in self.bars.values():
            b.close()

    def drain(self, timeout: float) -> None:
        """Draw what the workers sent, waiting up to `timeout` seconds for the first message."""
        try:
            self._handle(self.sink.get(timeout=timeout) if timeout else self.sink.get_nowait())
            while True:
                self._handle(self.sink.get_nowait())
        except queue_module.Empty:
            pass

    def _handle(self, message: tuple) -> None:
        what, key, *rest = message
        if what == "open":
            desc, total, initial = rest
            self.bars[key] = _drawn(desc, total, initial)
            return
        n, postfix = rest
        b = self.bars.get(key)
        if b is None:
            return
        if postfix:
            b.set_postfix(postfix, refresh=False)
        b.update(n - b.n)
        if what == "close":
            b.close()

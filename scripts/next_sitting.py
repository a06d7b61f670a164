"""The next sitting of a run that spans machines (docs/stages.md, "the ledger"): the part of the plan that adds
the most images the ledger lacks within a sitting's hours on this machine, and the command that computes it.

    python scripts/next_sitting.py --hours 2.2 [--profile default] [--bench 37.4] [--all: every sitting left]

A part is some notebooks for some seeds (chapter 6 also for some labeled fractions). Its cost counts what the
ledger lacks and the inputs whose files are not in this build (a CycleGAN and a teacher trained again), in
images through a model, turned into hours by `estimate.cpu_hours` at the bench (`make bench`: build/bench.json).
"""
import argparse
import itertools
import json
import shutil
import tempfile
from pathlib import Path

from thesislib.paths import REPO
from thesislib.runs import plan, runner
from thesislib.runs.estimate import bench_rate, cpu_hours
from thesislib.runs.lab import Lab
from thesislib.runs.ledger import LEDGER
from thesislib.runs.stages import KINDS

CHAPTERS = (("03", "04", "05"), ("06",), ("03", "04", "05", "06"))


def parts(profile):
    """Candidate parts: (notebooks, seeds, fractions or None): chapters 3-5, 6 or both, for one or two seeds,
    chapter 6 by labeled fraction too."""
    seeds = [(s,) for s in profile.seeds] + list(itertools.combinations(profile.seeds, 2))
    fractions = [f for n in (1, 2, 3) for f in itertools.combinations(profile.fractions, n)]
    for notebooks in CHAPTERS:
        for s in seeds:
            for f in fractions if "06" in notebooks else [None]:
                yield notebooks, s, f


def todo(profile_name: str, build_dir, notebooks, seeds, fractions, ledger_dir=LEDGER):
    """The Lab, the part's graph nodes and the keys of those to compute here."""
    select = {"seeds": seeds, **({"fractions": fractions} if fractions else {})}
    lab = Lab(profile_name, build_dir=build_dir, compute=False, overrides=select, ledger_dir=ledger_dir)
    names = [n for n in plan.NOTEBOOKS if n[:2] in notebooks]
    nodes, needs = runner.graph(lab, [s for n in names for s in plan.notebook(n, lab.profile)])
    return lab, nodes, runner.to_compute(lab, nodes, needs)


def cost(profile_name: str, build_dir, notebooks, seeds, fractions, ledger_dir=LEDGER) -> tuple[int, int]:
    """(new images: stages the ledger lacks, all images to compute here: those and the inputs retrained)."""
    lab, nodes, keys = todo(profile_name, build_dir, notebooks, seeds, fractions, ledger_dir)
    images = {k: KINDS[nodes[k].kind].cost(nodes[k], lab.profile) for k in keys}
    return round(sum(v for k, v in images.items() if not lab.done(nodes[k]))), round(sum(images.values()))


def best_part(profile, build_dir, bench: float, hours: float, ledger_dir=LEDGER):
    """(new, total, notebooks, seeds, fractions) of the part adding the most new images within `hours`, or None."""
    best = None
    for notebooks, seeds, fractions in parts(profile):
        new, total = cost(profile.name, build_dir, notebooks, seeds, fractions, ledger_dir)
        if new and cpu_hours(total, bench) <= hours and (best is None or new > best[0]):
            best = (new, total, notebooks, seeds, fractions)
    return best


def every_sitting(profile, bench: float, hours: float, ledger_dir=LEDGER) -> list[tuple]:
    """The sittings left, each on a new machine (its CycleGANs and teachers trained again): the best part, its
    stages then counted done in a scratch copy of the ledger, until nothing fits."""
    sittings = []
    with tempfile.TemporaryDirectory() as scratch:
        ledger = Path(scratch) / "ledger"
        if Path(ledger_dir).exists():
            shutil.copytree(ledger_dir, ledger)
        while part := best_part(profile, Path(scratch) / "build", bench, hours, ledger):
            sittings.append(part)
            lab, nodes, keys = todo(profile.name, Path(scratch) / "build", *part[2:], ledger)
            for k in keys:
                f = lab.ledger.file(lab.path(nodes[k]))
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(json.dumps({"metrics": {}}))
    return sittings


def command(profile_name: str, notebooks, seeds, fractions) -> str:
    args = f' ARGS="fractions=[{",".join(map(str, fractions))}]"' if fractions else ""
    return f"make ledger PROFILE={profile_name} NOTEBOOKS={','.join(notebooks)} SEEDS={','.join(map(str, seeds))}{args}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.2, help="the sitting's compute hours (leave time to commit)")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--build-dir", default=None)
    ap.add_argument("--all", action="store_true", help="every sitting left (a markdown table), not just the next")
    ap.add_argument("--bench", type=float, default=None, help="img/s of `make bench` (default: build/bench.json)")
    a = ap.parse_args()
    bench = a.bench or bench_rate(REPO / "build" / "bench.json")
    if not bench:
        raise SystemExit("no bench: run `make bench` (on a machine up a few minutes) or pass --bench")
    profile = Lab(a.profile, build_dir=a.build_dir, compute=False).profile
    if a.all:
        print(f"| sitting | command | images (new) | at {bench:.1f} img/s |\n|---|---|---|---|")
        for i, (new, total, *part) in enumerate(every_sitting(profile, bench, a.hours), 1):
            print(f"| {i} | `{command(a.profile, *part)}` | {total:,} ({new:,}) | {cpu_hours(total, bench):.1f} h |")
        return
    best = best_part(profile, a.build_dir, bench, a.hours)
    if best is None:
        raise SystemExit(f"no part fits {a.hours} h at {bench:.1f} img/s, or the ledger holds the whole plan")
    new, total, *part = best
    print(f"next sitting: {total:,} images ({new:,} new), about {cpu_hours(total, bench):.1f} h at {bench:.1f} img/s\n"
          f"  {command(a.profile, *part)}\n  git add ledger/ && git commit -m 'ledger: ...'")


if __name__ == "__main__":
    main()

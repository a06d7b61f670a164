"""Command line: world · check-data · train · predict · reproduce · sweep · lab · status · bench."""
import argparse
import json
import os
import sys
from pathlib import Path

from thesislib.cpu import pin_kernels

pin_kernels()     # before torch is imported: every CPU computes with the ledger's kernels (thesislib/cpu.py)

METHODS = ("source_only", "oracle", "supervised", "cyclegan", "fda", "adversarial", "entropy", "self_training")


def parse_value(text: str):
    """key=value values: JSON when it parses (numbers, true/false, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise SystemExit(f"error: expected key=value, got {p!r} (e.g. steps=100 lr=0.001)")
        k, v = p.split("=", 1)
        v = parse_value(v)
        out[k] = tuple(v) if isinstance(v, list) else v
    return out


def cmd_world(a):
    from thesislib.tools.world import write_world
    summary = write_world(a.out, a.profile, a.seed)
    print(json.dumps(summary, indent=2, default=str))


def cmd_check_data(a):
    from thesislib.data.check import main as check_main
    return check_main(a.kind, a.root, a.out)


def split_overrides(pairs: list[str]) -> tuple[dict, dict]:
    """key=value pairs -> (profile fields, everything else)."""
    from dataclasses import fields

    from thesislib.profiles import Profile, check_overrides
    kw, names = parse_overrides(pairs), {f.name for f in fields(Profile)}
    return check_overrides({k: v for k, v in kw.items() if k in names}), {k: v for k, v in kw.items() if k not in names}


def cmd_train(a):
    from dataclasses import asdict

    from thesislib.io import atomic_write_json
    from thesislib.profiles import get_profile
    fields_, kw = split_overrides(a.overrides)
    profile = get_profile(a.profile, **fields_)
    if not (Path(a.data_root) / "gta5").is_dir() or not (Path(a.data_root) / "cityscapes").is_dir():
        raise SystemExit(f"error: --data-root {a.data_root} must hold gta5/ and cityscapes/ "
                         "(create the embedded world with `thesislib world --out DIR`)")
    from thesislib.data.check import ensure_checked
    ensure_checked(a.data_root)                       # class balancing reads the per-image class counts
    atomic_write_json(Path(a.out) / "profile.json", asdict(profile))    # what `thesislib predict` rebuilds
    try:
        train_method(a.method, a.data_root, a.out, profile, a.seed, kw)
    except TypeError as e:
        raise SystemExit(f"error: bad parameter for {a.method}: {e}") from e
    if a.method != "cyclegan":
        from thesislib.tools.predict import predict_split
        val = predict_split(a.out, a.data_root, "val", Path(a.out) / "val", profile, progress=False)
        print(f"{a.method}: mIoU {val.get('miou')}  pixel accuracy {val.get('pixel_accuracy')}  -> {a.out}")


def train_method(method: str, data_root, out, profile, seed: int, kw: dict):
    """One trainer of thesislib.methods, its keyword arguments from the command line."""
    if method in ("source_only", "oracle", "supervised"):
        from thesislib.methods.supervised import train_supervised
        fixed = {"source_only": {"source": "gta5"}, "oracle": {"source": "cityscapes"}, "supervised": {}}[method]
        return train_supervised(data_root, out, profile, seed, **fixed, **kw)
    if method == "self_training":
        from thesislib.methods.self_training import SelfTraining, train_self_training
        if "teacher" not in kw:
            raise SystemExit("error: self_training needs teacher=CHECKPOINT (a trained run's checkpoint.pt) "
                             "and source_root=DIR (the translated source set, GTA5 layout)")
        teacher, source_root = kw.pop("teacher"), kw.pop("source_root", None)
        return train_self_training(data_root, out, profile, seed, source_root, teacher, SelfTraining.from_options(kw))
    module = {"cyclegan": "cyclegan", "fda": "fda", "adversarial": "adversarial", "entropy": "entropy"}[method]
    import importlib
    return getattr(importlib.import_module(f"thesislib.methods.{module}"), f"train_{module}")(data_root, out, profile,
                                                                                              seed, **kw)


def cmd_predict(a):
    from thesislib.tools.predict import predict_split, run_profile
    fields_, rest = split_overrides(a.overrides)
    if rest:
        raise SystemExit(f"error: predict takes profile fields only, not {sorted(rest)}")
    result = predict_split(a.run, a.data_root, a.split, a.out, run_profile(a.run, a.profile, **fields_),
                           batch_size=a.batch_size)
    out = Path(a.out)
    print(f"{result['images']} predictions -> {out / 'labelIds'} (label ids), {out / 'color'} (overlays)")
    if "miou" in result:
        print(f"mIoU {result['miou']}  pixel accuracy {result['pixel_accuracy']}  -> {out / 'metrics.json'}")
    print(f"official evaluator: CITYSCAPES_DATASET={Path(a.data_root) / 'cityscapes'} "
          f"CITYSCAPES_RESULTS={out / 'labelIds'} csEvalPixelLevelSemanticLabeling")


def cmd_reproduce(a):
    from thesislib.runs.pipeline import reproduce
    from thesislib.profiles import default_profile
    if not a.profile:                                  # make reproduce without PROFILE=: the machine decides
        a.profile = default_profile()
        print(f"reproduce: no profile named; {'a GPU is here' if a.profile == 'gpu' else 'no GPU here'}, so "
              f"profile {a.profile} (PROFILE=... or --profile choose another)", flush=True)
    fields_, rest = split_overrides(a.overrides)
    if rest:
        raise SystemExit(f"error: reproduce takes profile fields only (e.g. steps=100 encoder_weights=none), "
                         f"not {sorted(rest)}")
    return reproduce(a.profile, data_root=a.data_root, exports_only=a.exports_only, overrides=fields_,
                     build_dir=a.build_dir, lang=a.lang, executor=a.executor)


def cmd_sweep(a):
    from thesislib.tools.sweep import sweep
    grid = {p[0]: [parse_value(v) for v in p[1:]] for p in a.param}
    return sweep(a.notebook, grid, profile=a.profile)


def cmd_lab(a):
    """JupyterLab on working copies of the notebooks (build/lab/): exploring never edits the tracked ones."""
    from thesislib.runs.notebook import lab_copies
    work = Path(a.dir).resolve()
    for line in lab_copies(work_dir=work):
        print(f"lab: {line}")
    print(f"lab: JupyterLab on working copies in {work}; the tracked notebooks/ stay as committed "
          "(edit those directly only to change the thesis' notebooks)", flush=True)
    jupyter = Path(sys.executable).with_name("jupyter")
    os.execv(jupyter, [str(jupyter), "lab", f"--ServerApp.root_dir={work}", *a.jupyter_args])


def cmd_status(a):
    from thesislib.runs.lab import Lab
    from thesislib.profiles import default_profile
    a.profile = a.profile or default_profile()
    fields_, rest = split_overrides(a.overrides)
    if rest:
        raise SystemExit(f"error: status takes profile fields only, not {sorted(rest)}")
    lab = Lab(a.profile, a.data_root, build_dir=a.build_dir, compute=False, overrides=fields_)
    if a.prune:
        removed = lab.prune()
        print(f"removed {len(removed)} entries of older code from {lab.cache.root}" + "".join(f"\n  {d}" for d in removed))
    rows = lab.status()
    if not rows:
        print(f"nothing cached for profile {a.profile} in {lab.cache.root}")
    for r in rows:
        print(f"{r['stage'][:58]:<58} {r['state']:<9} {r['bytes'] / 2**20:>8.1f} MB  {r['status']}")
    if rows:
        counts = {s: sum(r["status"].split(":")[0] == s for r in rows) for s in ("current", "stale", "other")}
        print(f"{len(rows)} entries ({', '.join(f'{n} {s}' for s, n in counts.items())}), "
              f"{sum(r['bytes'] for r in rows) / 2**30:.2f} GB in {lab.cache.root}")
    if entries := lab.ledger.entries():
        print(f"{len(entries)} stage results in the ledger ({lab.ledger.root}): done, their files made again where needed")
    print_progress(lab)


def cmd_ledger(a):
    """A sitting of a run that spans machines: compute the stages of some notebooks (for some seeds) that the
    ledger does not know, then add this build's finished stages of the plan to the committed ledger."""
    from thesislib.runs import plan
    from thesislib.runs.lab import Lab
    from thesislib.profiles import default_profile
    a.profile = a.profile or default_profile()
    if a.notebooks:
        wanted = set(a.notebooks.split(","))
        names = [n for n in plan.NOTEBOOKS if n in wanted or n.split("_", 1)[0] in wanted]
        if not names:
            raise ValueError(f"--notebooks {a.notebooks}: no such notebook; name them as 05 or 05_self_training")
        part, rest = split_overrides(a.overrides)
        part.update({"seeds": tuple(int(x) for x in a.seeds.split(","))} if a.seeds else {})
        sitting = Lab(a.profile, a.data_root, build_dir=a.build_dir, overrides=part, ledger_dir=a.ledger_dir)
        stages = list(dict.fromkeys(s for n in names for s in plan.notebook(n, sitting.profile)))
        whole = Lab(a.profile, a.data_root, build_dir=a.build_dir, compute=False)
        if rest or not {sitting.key(s) for s in stages} <= {whole.key(s) for s in plan.thesis(whole.profile)}:
            raise ValueError(f"a sitting computes a part of the plan: {' '.join(a.overrides)} changes its stages; "
                             "choose the part with fields that select (seeds=[2], fractions=[0.015625])")
        print(f"ledger: computing what the ledger lacks of {len(stages)} stages ({', '.join(names)}; "
              f"{', '.join(f'{k} {v}' for k, v in sitting.overrides.items()) or 'all seeds'}) and their inputs", flush=True)
        try:
            sitting.compute(stages)
        finally:                                   # a failed or interrupted sitting keeps what it finished
            save_to_ledger(a)
        return
    save_to_ledger(a)


def save_to_ledger(a):
    """The build's finished stages of the plan into the ledger; what each notebook has done and left."""
    from thesislib.runs.lab import Lab
    lab = Lab(a.profile, a.data_root, build_dir=a.build_dir, compute=False, ledger_dir=a.ledger_dir)
    added, known = lab.save_to_ledger()
    print(f"ledger: {added} stage{'s' * (added != 1)} added from {lab.cache.root}; {lab.ledger.root} now holds {known} stages of "
          f"the plan: commit it (git add ledger/)")
    print_progress(lab)


def print_progress(lab):
    """What each notebook adds to the plan, done and left, and the hours left on this machine when a CPU bench
    (`make bench`: build/bench.json, of this build or the checkout) is there."""
    from thesislib.paths import REPO
    from thesislib.runs.estimate import bench_rate, cpu_hours
    rows = lab.progress_by_notebook()
    bench = None if lab.device.type == "cuda" else bench_rate(lab.build / "bench.json", REPO / "build" / "bench.json")
    hours = f"h left at bench {bench:.1f} img/s" if bench else "(make bench: hours left)"
    print(f"\n{'notebook (its stages not in those before)':<42} {'done':>9} {'images':>10} {'left':>10}  {hours}")
    for r in rows + [{"notebook": "all", **{k: sum(r[k] for r in rows) for k in ("stages", "done", "images", "images_left")}}]:
        left = f"{cpu_hours(r['images_left'], bench):.1f}" if bench else ""
        print(f"{r['notebook']:<42} {r['done']:>4}/{r['stages']:<4} {r['images']:>10,} {r['images_left']:>10,}  {left}")


def cmd_bench(a):
    from thesislib.tools.bench import main as bench_main
    return bench_main(a.out, a.profile)


def main(argv=None):
    from thesislib.runs.ledger import LEDGER
    ap = argparse.ArgumentParser(prog="thesislib", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("world", help="generate the embedded two-domain world (GTA5 + Cityscapes layouts)")
    p.add_argument("--out", required=True)
    p.add_argument("--profile", default="default")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_world)
    p = sub.add_parser("check-data", help="scan a dataset; write class statistics and the exclusion list")
    p.add_argument("kind", choices=["gta5", "cityscapes"])
    p.add_argument("root")
    p.add_argument("--out", default=None, help="JSON path (default ROOT/thesislib-check.json)")
    p.set_defaults(fn=cmd_check_data)
    p = sub.add_parser("train", help="train one method; writes metrics.json, config, log, checkpoints")
    p.add_argument("method", choices=METHODS)
    p.add_argument("--data-root", required=True)
    p.add_argument("--profile", default="default")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("overrides", nargs="*", help="key=value: profile fields or method parameters")
    p.add_argument("--build-dir", default=None, help="build folder (default $THESISLIB_BUILD or <repo>/build)")
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("predict", help="a trained run's predictions as Cityscapes result files (label-id PNGs)")
    p.add_argument("run", help="a run folder: the --out of `thesislib train`, or a stage folder of the cache")
    p.add_argument("--data-root", required=True)
    p.add_argument("--split", default="val", choices=["train", "val", "test", "train_extra"])
    p.add_argument("--out", required=True)
    p.add_argument("--profile", default=None, help="when the run folder does not record its profile")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("overrides", nargs="*", help="key=value: profile fields")
    p.set_defaults(fn=cmd_predict)
    p = sub.add_parser("reproduce", help="execute every notebook with Papermill; write tables/ and figures/")
    p.add_argument("--profile", default=None, help="default: gpu where CUDA is, else default")
    p.add_argument("--data-root", default=None)
    p.add_argument("--exports-only", action="store_true", help="only redo exports from cached results")
    p.add_argument("--lang", default="en", choices=("en", "ko"), help="captions and headers of the tables")
    p.add_argument("--executor", default="local", choices=("local", "slurm"),
                   help="local: the stages side by side here; slurm: one SLURM job per stage (submitit)")
    p.add_argument("overrides", nargs="*", help="key=value: profile fields (e.g. encoder_weights=none)")
    p.add_argument("--build-dir", default=None, help="build folder (default $THESISLIB_BUILD or <repo>/build)")
    p.set_defaults(fn=cmd_reproduce)
    p = sub.add_parser("sweep", help="run a notebook over a parameter grid; collect CSV, LaTeX, plot")
    p.add_argument("notebook")
    p.add_argument("-p", "--param", nargs="+", action="append", required=True, metavar=("NAME", "VALUE"))
    p.add_argument("--profile", default="smoke")
    p.set_defaults(fn=cmd_sweep)
    p = sub.add_parser("lab", help="JupyterLab on working copies of the notebooks under build/lab/")
    p.add_argument("--dir", default=str(Path(__file__).resolve().parents[1] / "build" / "lab"))
    p.set_defaults(fn=cmd_lab, jupyter_args=[])
    p = sub.add_parser("status", help="what is cached for a profile, and what is stale and why")
    p.add_argument("--profile", default=None, help="default: gpu where CUDA is, else default")
    p.add_argument("--data-root", default=None)
    p.add_argument("--prune", action="store_true", help="delete the entries made by older code (never read again)")
    p.add_argument("overrides", nargs="*", help="key=value: profile fields")
    p.add_argument("--build-dir", default=None, help="build folder (default $THESISLIB_BUILD or <repo>/build)")
    p.set_defaults(fn=cmd_status)
    p = sub.add_parser("ledger", help="add this build's finished stages to ledger/<profile>/ (commit it)")
    p.add_argument("--profile", default=None, help="default: gpu where CUDA is, else default")
    p.add_argument("--data-root", default=None)
    p.add_argument("--build-dir", default=None, help="build folder (default $THESISLIB_BUILD or <repo>/build)")
    p.add_argument("--notebooks", default=None, help="first compute the stages of these notebooks, e.g. 05 or 03,04")
    p.add_argument("--seeds", default=None, help="... for these seeds only, e.g. 0,1 (default: the profile's)")
    p.add_argument("--ledger-dir", default=str(LEDGER), help="default: ledger/ of this checkout")
    p.add_argument("overrides", nargs="*", help="key=value that select a part: fractions=[0.015625]")
    p.set_defaults(fn=cmd_ledger)
    p = sub.add_parser("bench", help="training throughput: fp32 eager vs bf16+channels_last (+compile)")
    p.add_argument("--out", default="build/bench.json")
    p.add_argument("--profile", default="default")
    p.set_defaults(fn=cmd_bench)
    a, extra = ap.parse_known_args(argv)     # key=value may also follow the options of `train`
    if a.command == "lab":                    # the rest goes to jupyter lab (--no-browser, --port=...)
        a.jupyter_args, extra = extra, []
    if extra and (a.command not in ("train", "predict", "reproduce", "status", "ledger")
                  or any("=" not in e or e.startswith("-") for e in extra)):
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        a.overrides = a.overrides + extra
    if getattr(a, "build_dir", None):              # one place for every later use, notebook kernels included
        os.environ["THESISLIB_BUILD"] = str(Path(a.build_dir).resolve())
    try:
        return a.fn(a) or 0
    except (ValueError, FileNotFoundError) as e:     # bad input, missing weights: one clear message
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

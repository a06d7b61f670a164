"""The stage graph, declared once: every expensive result of the thesis, what it reads, how it is named.

A `Stage` is a kind and its parameters: `Stage.of("oracle", seed=0, fraction=1/64)`. Each kind below is
one function that computes it (calling a trainer of thesislib.methods, or the scorer), registered with
the profile fields it reads and the stages it needs. The stage cache keys a stage by exactly what it
reads (`Lab.key`): its parameters, those profile fields, its inputs' keys, the data's identity, the
source of the code it runs, and the device and precision. Which stages each table and figure reads is
`thesislib.runs.plan`; `thesislib.runs.runner` computes a set of them side by side.
"""
import ast
import hashlib
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Callable

from thesislib.profiles import loader_workers

PACKAGE = Path(__file__).resolve().parents[1]     # thesislib/
# modules that never change a result: imported by training code, left out of its code version
NOT_RESULTS_CODE = {"progress.py", "io.py", "paths.py", "stages.py", "profiles.py"}   # profiles: fields are keyed
# what a segmentation model is and what it predicts at
MODEL = ("encoder", "encoder_weights", "decoder_channels", "image_hw")
TRAIN = MODEL + ("crop_hw", "batch_size", "lr", "class_weighting", "compile")
GAN = ("image_hw", "compile", "gan_hw", "gan_ngf", "gan_blocks", "gan_ndf", "gan_steps", "gan_batch_size", "gan_upsample",
       "gan_identity")
SELF_TRAINING = TRAIN + ("st_rounds", "st_steps", "st_real_share", "st_pool", "st_ignore_bottom")
SCORE = MODEL + ("eval_source_images",)


@dataclass(frozen=True, order=True)
class Stage:
    """A node of the graph: `kind` (a key of KINDS) and its parameters as sorted (name, value) pairs, so
    that a stage is hashable and can be a parameter of another (a teacher, a scored model)."""
    kind: str
    params: tuple = ()

    @classmethod
    def of(cls, kind: str, **params) -> "Stage":
        if kind not in KINDS:
            raise ValueError(f"unknown stage kind {kind!r}: one of {', '.join(KINDS)}")
        return cls(kind, tuple(sorted((k, _frozen(v)) for k, v in params.items() if v is not None)))

    def __getitem__(self, name):
        return dict(self.params)[name]

    def get(self, name, default=None):
        return dict(self.params).get(name, default)

    @property
    def seed(self) -> int:
        return self.get("seed", 0) if self.kind != "score" else self["model"].seed

    @property
    def needs(self) -> dict[str, "Stage"]:
        """The stages this one reads, by the name its function knows them by."""
        return KINDS[self.kind].needs(self)

    def __str__(self) -> str:
        """The stage's name in exports and logs: kind(param=value, ...), e.g. oracle(fraction=1/64, seed=0)."""
        return f"{self.kind}({', '.join(f'{k}={_show(v)}' for k, v in self.params)})"

    @property
    def words(self) -> str:
        """The stage in words, for progress bars: "oracle · seed 0 · fraction 1/64"."""
        if self.kind in ("score", "predictions"):
            scored = f" on {self['on']}" + (f", round {self['round']}" if self.get("round") else "") \
                if self.kind == "score" else ""
            return f"{KINDS[self.kind].words}{scored} · {self['model'].words}"
        shown = []
        for k, v in self.params:
            if isinstance(v, Stage):
                shown.append(f"{k} {KINDS[v.kind].words}" + (f" {_show(v['fraction'])}" if v.get("fraction") else ""))
            elif k == "options":
                shown += [f"{n.replace('_', ' ')} {_show(x)}" for n, x in v]
            elif k != "seed":
                shown.append(f"{k.replace('_', ' ')} {_show(v)}")
        return " · ".join([KINDS[self.kind].words, f"seed {self.seed}", *shown])


def _frozen(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


def _show(v) -> str:
    if isinstance(v, float) and 0 < v < 1:
        return str(Fraction(v).limit_denominator(1000))
    if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return "{" + ", ".join(f"{k}={_show(x)}" for k, x in v) + "}"
    return str(v)


@dataclass(frozen=True)
class Kind:
    compute: Callable          # (lab, stage, out, inputs: {name: input stage folder}) -> metrics
    words: str
    fields: tuple              # the profile fields it reads
    needs: Callable            # stage -> {name: Stage}
    code: tuple                # the modules whose import closures are the code it runs
    cost: Callable             # (stage, profile) -> images through a model, for scheduling and time left
    settings: Callable | None  # (stage, profile) -> the resolved options that key it (default: its params)


KINDS: dict[str, Kind] = {}


def kind(words: str, fields: tuple, code, cost, needs=lambda s: {}, settings=None):
    """Register the decorated function as the stage kind of its name; `code`: a module or a tuple of them."""
    def register(fn):
        KINDS[fn.__name__] = Kind(fn, words, fields, needs, (code,) if isinstance(code, str) else tuple(code), cost,
                                  settings)
        return fn
    return register


def S(kind_: str, **params) -> Stage:
    return Stage.of(kind_, **params)


def cyclegan_of(s: Stage) -> Stage:
    return S("cyclegan", seed=s.seed)


def teacher_of(s: Stage) -> Stage:
    """The translated-source model of the stage's seed: the teacher, and where the adaptation baselines start."""
    return S("translated", seed=s.seed)


SUPERVISED = "thesislib.methods.supervised"
steps_cost = lambda steps, streams=1: lambda s, p: (s.get("steps") or getattr(p, steps)) * p.batch_size * streams  # noqa: E731


# ---------------------------------------------------------------- input level
@kind("CycleGAN", GAN, "thesislib.methods.cyclegan", cost=lambda s, p: 4.6 * p.gan_steps * p.gan_batch_size)
def cyclegan(lab, s, out, inputs):
    """CycleGAN trained on source vs target images, then the whole source set translated (out/translated)."""
    from thesislib.methods.cyclegan import train_cyclegan
    return train_cyclegan(lab.training_root(), out, lab.profile, s.seed, **lab.engine)


# ---------------------------------------------------------------- supervised
@kind("source only", TRAIN + ("steps",), SUPERVISED, cost=steps_cost("steps"))
def source_only(lab, s, out, inputs):
    from thesislib.methods.supervised import train_supervised
    return train_supervised(lab.training_root(), out, lab.profile, s.seed, source="gta5", **lab.engine)


@kind("oracle", TRAIN + ("steps",), SUPERVISED, cost=steps_cost("steps"))
def oracle(lab, s, out, inputs):
    """Target labels only: all of target-train (the oracle), or a fixed `fraction` ("labeled only"); `steps`:
    other than the profile's (the convergence curves)."""
    from thesislib.methods.supervised import train_supervised
    return train_supervised(lab.training_root(), out, lab.profile, s.seed, source="cityscapes", fraction=s.get("fraction", 1.0),
                            steps=s.get("steps"), **lab.engine)


@kind("translated source", TRAIN + ("steps",), SUPERVISED, cost=steps_cost("steps"), needs=lambda s: {"cyclegan": cyclegan_of(s)})
def translated(lab, s, out, inputs):
    """Source-only training on the CycleGAN-translated source set ("adapted synthetic"): the teacher (`steps`:
    other than the profile's, for a teacher trained longer)."""
    from thesislib.methods.supervised import train_supervised
    return train_supervised(lab.training_root(), out, lab.profile, s.seed, source="gta5",
                            source_root=inputs["cyclegan"] / "translated", steps=s.get("steps"), **lab.engine)


@kind("S+T", TRAIN + ("steps",), SUPERVISED, cost=steps_cost("steps", 2), needs=lambda s: {"cyclegan": cyclegan_of(s)})
def joint(lab, s, out, inputs):
    """S+T: translated source and the labeled target `fraction` in every batch (as many labeled images as
    the labeled-only run sees)."""
    from thesislib.methods.supervised import train_supervised
    return train_supervised(lab.training_root(), out, lab.profile, s.seed, source="joint", fraction=s["fraction"],
                            source_root=inputs["cyclegan"] / "translated", **lab.engine)


@kind("fine-tuned", TRAIN + ("steps",), SUPERVISED, cost=steps_cost("steps"), needs=lambda s: {"init": teacher_of(s)})
def finetuned(lab, s, out, inputs):
    """The translated-source model fine-tuned on the labeled target `fraction` (as many steps as labeled only)."""
    from thesislib.methods.supervised import train_supervised
    return train_supervised(lab.training_root(), out, lab.profile, s.seed, source="cityscapes", fraction=s["fraction"],
                            init=inputs["init"] / "checkpoint.pt", **lab.engine)


# ---------------------------------------------------------------- adaptation baselines
@kind("FDA", TRAIN + ("steps",), "thesislib.methods.fda", cost=steps_cost("steps"))
def fda(lab, s, out, inputs):
    from thesislib.methods.fda import train_fda
    return train_fda(lab.training_root(), out, lab.profile, s.seed, beta=s["beta"], **lab.engine)


ADAPT = {"cyclegan": cyclegan_of, "init": teacher_of}


@kind("adversarial", TRAIN + ("adapt_steps",), "thesislib.methods.adversarial", cost=steps_cost("adapt_steps"),
      needs=lambda s: {k: f(s) for k, f in ADAPT.items()})
def adversarial(lab, s, out, inputs):
    """The teacher adapted with a discriminator on its outputs (`level` "output") or encoder features."""
    from thesislib.methods.adversarial import train_adversarial
    return train_adversarial(lab.training_root(), out, lab.profile, s.seed, level=s["level"], split_batch=True,
                             source_root=inputs["cyclegan"] / "translated", init=inputs["init"] / "checkpoint.pt",
                             **lab.engine)


@kind("entropy minimisation", TRAIN + ("adapt_steps",), "thesislib.methods.entropy", cost=steps_cost("adapt_steps"),
      needs=lambda s: {k: f(s) for k, f in ADAPT.items()})
def entropy(lab, s, out, inputs):
    from thesislib.methods.entropy import train_entropy
    return train_entropy(lab.training_root(), out, lab.profile, s.seed, split_batch=True,
                         source_root=inputs["cyclegan"] / "translated", init=inputs["init"] / "checkpoint.pt",
                         **lab.engine)


# ---------------------------------------------------------------- self-training
def self_training_config(s: Stage, profile):
    from thesislib.methods.self_training import SelfTraining
    return SelfTraining.from_options(dict(s.get("options", ()))).resolved(profile)


def _self_training_needs(s: Stage) -> dict:
    from thesislib.methods.self_training import SelfTraining
    options = SelfTraining.from_options(dict(s.get("options", ())))
    teacher = s.get("teacher") or teacher_of(s)
    needs = {"teacher": teacher, "predictions": S("predictions", model=teacher, flip=options.flip, pool=options.pool)}
    if options.source:
        needs["cyclegan"] = cyclegan_of(s)
    return needs


def _self_training_cost(s: Stage, p) -> float:
    c = self_training_config(s, p)
    pool = p.n_train + (p.n_extra if c.pool == "train+extra" else 0)
    return sum(c.steps * sum(c.batch(p, k)) + 0.5 * pool for k in range(1, c.rounds + 1))


@kind("self-training", SELF_TRAINING, "thesislib.methods.self_training", cost=_self_training_cost,
      needs=_self_training_needs, settings=lambda s, p: asdict(self_training_config(s, p)))
def self_training(lab, s, out, inputs):
    """The thesis' method from `teacher` (default: the translated-source model of the seed), with the
    options of `methods.self_training.SelfTraining` (`options`, a dict: what differs from the defaults)."""
    from thesislib.methods.self_training import train_self_training
    source = inputs["cyclegan"] / "translated" if "cyclegan" in inputs else None
    teacher = inputs["teacher"] / lab.checkpoint(s.needs["teacher"])
    return train_self_training(lab.training_root(), out, lab.profile, s.seed, source, teacher, self_training_config(s, lab.profile),
                               predictions=inputs["predictions"] / "pool", **lab.engine)


def _pool(s: Stage, p) -> str:
    return s.get("pool") or p.st_pool


@kind("teacher predictions", MODEL + ("st_pool",), ("thesislib.pseudo", "thesislib.models.segmentation"),
      cost=lambda s, p: 0.5 * (p.n_train + (p.n_extra if _pool(s, p) == "train+extra" else 0)),
      needs=lambda s: {"model": s["model"]})
def predictions(lab, s, out, inputs):
    """A teacher's predictions and confidences on the pseudo-label pool (pass 1 of `pseudo`; `pool`: the
    profile's st_pool unless given), shared by every self-training run that starts from it."""
    from thesislib.pseudo import predict_pool
    model = lab.load_model(s["model"], folder=inputs["model"])
    pool = lab.pool(_pool(s, lab.profile))
    hist = predict_pool(model, pool, out / "pool", lab.device, flip=s["flip"], num_workers=loader_workers(lab.profile),
                        precision=lab.precision)
    return {"images": len(pool), "predicted_pixels": int(hist.sum())}


# ---------------------------------------------------------------- scoring
SCORED_ON = ("val", "gta5", "translated")


def _score_needs(s: Stage) -> dict:
    needs = {"model": s["model"]}
    if s["on"] == "translated":
        needs["cyclegan"] = cyclegan_of(s["model"])
    return needs


@kind("score", SCORE, ("thesislib.runs.scoring", "thesislib.models.segmentation", "thesislib.data"), needs=_score_needs,
      cost=lambda s, p: 0.3 * (p.n_val if s["on"] == "val" else min(p.eval_source_images or p.n_source, p.n_source)))
def score(lab, s, out, inputs):
    """A model's scores on target val (`on` "val"), the source set or the translated source set, scored
    against the labels at their own resolution (thesislib.inference.PROTOCOL); `round`: a self-training
    round's model instead of its last."""
    from thesislib.runs.scoring import evaluate
    model = lab.load_model(s["model"], s.get("round"), folder=inputs["model"])
    dataset = lab.eval_dataset(s["on"], inputs.get("cyclegan"))
    return evaluate(model, dataset, lab.device, precision=lab.precision, num_workers=loader_workers(lab.profile))


# ---------------------------------------------------------------- code versions
def _imports(path: Path) -> set[Path]:
    """The thesislib modules a source file imports (anywhere in it: deferred imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] == "thesislib":
                found |= {p for p in _module_files(name) if p.exists()}
    return found


def _module_files(name: str) -> list[Path]:
    """The files a module name may be (thesislib.a.b: a/b.py or a/b/__init__.py) and its packages' __init__.py."""
    parts = name.split(".")[1:]
    inits = [PACKAGE.joinpath(*parts[:i], "__init__.py") for i in range(len(parts) + 1)]
    return ([PACKAGE.joinpath(*parts).with_suffix(".py")] if parts else []) + inits


@cache
def code_files(module: str) -> tuple[Path, ...]:
    """The source files `module` runs: its import closure within thesislib, less NOT_RESULTS_CODE."""
    todo, seen = [p for p in _module_files(module) if p.exists()], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += sorted(_imports(path) - seen)
    return tuple(sorted(p for p in seen if p.name not in NOT_RESULTS_CODE))


def source_digest(path: Path) -> str:
    """A hash of what a source file computes: its syntax tree without docstrings, so an edit of a comment, a
    docstring or the layout keeps every stage's key (a multi-hour stage cache survives documentation)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


@cache
def code_version(module: str) -> dict[str, str]:
    """{file relative to the package: `source_digest`} of what `module` runs."""
    return {p.relative_to(PACKAGE).as_posix(): source_digest(p) for p in code_files(module)}

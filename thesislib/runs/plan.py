"""What the thesis computes: the stages each table and figure reads, per notebook.

Each function below returns the rows of one table or figure as {row: {seed: Stage}}; the table functions of
thesislib.runs.chapters read their numbers through the same functions (rows keyed by stage, never by
position), `make reproduce` computes the stages of every notebook before running them, and a notebook
opened alone computes its own (`lab.compute(plan.notebook("05_self_training", lab.profile))`).
"""
from thesislib.runs.stages import S, Stage

FDA_BETA = 0.01                                     # FDA's low-frequency window (Yang & Soatto's best single beta)
ADAPTATION = {"source_only": "source_only", "translated": "translated", "fda": "fda", "adversarial_output": "adversarial",
              "adversarial_feature": "adversarial", "entropy": "entropy", "self_training": "self_training",
              "oracle": "oracle"}


def self_training_options(**options) -> dict:
    """The self-training options that differ from `SelfTraining`'s defaults (a notebook's parameters): a
    stage's name shows only those; its key is the same either way (it reads the resolved options)."""
    from dataclasses import fields

    from thesislib.methods.self_training import SelfTraining
    defaults = {f.name: f.default for f in fields(SelfTraining)}
    return {k: v for k, v in options.items() if v != defaults[k]}


def each(seeds, make) -> dict[int, Stage]:
    return {s: make(s) for s in seeds}


def val(model: Stage, round_: int | None = None) -> Stage:
    """The score of `model` on target val (of a self-training round, when given)."""
    return S("score", model=model, on="val", round=round_)


def control_options(p) -> dict:
    """The self-training control: the same student training, no pseudo-labels (a real share of 0)."""
    return {"real_share": (0.0,) * p.st_rounds}


EMPTY_STREAM = {"empty_stream": True}   # the empty-stream control: the same batches, every pseudo-label ignored


def adaptation_stage(row: str, seed: int, options: dict | None = None) -> Stage:
    """The model of a row of the adaptation comparison (notebook 04, and the rows of 05 and 07 it shares)."""
    if row == "fda":
        return S("fda", seed=seed, beta=FDA_BETA)
    if row.startswith("adversarial_"):
        return S("adversarial", seed=seed, level=row.split("_")[1])
    if row == "self_training":
        return S("self_training", seed=seed, options=options or None)
    if row in ("control", "empty_stream"):
        return S("self_training", seed=seed, options=options)
    return S(ADAPTATION[row], seed=seed)


# ---------------------------------------------------------------- the tables and figures
def translation_figure(p) -> dict:
    """Notebook 02: the first seed's CycleGAN and its translated source set."""
    return {"cyclegan": {p.seeds[0]: S("cyclegan", seed=p.seeds[0])}}


def direct_transfer(p) -> dict:
    """Table 4.3: the oracle of each seed scored on the source, the translated source (its seed's CycleGAN)
    and target val."""
    return {on: each(p.seeds, lambda s, on=on: S("score", model=S("oracle", seed=s), on=on))
            for on in ("gta5", "translated", "val")}


def per_class(p) -> dict:
    """Table 4.4 and the per-class figure: every adaptation method of every seed, scored on target val."""
    return {row: each(p.seeds, lambda s, row=row: val(adaptation_stage(row, s))) for row in ADAPTATION}


def self_training_table(p, options: dict | None = None) -> dict:
    """The self-training table: source only, the teacher, the control (no pseudo-labels), the empty-stream
    control (the same batches, the pseudo-labels ignored), self-training, the oracle; `options`: self-training
    options that differ from the defaults (notebook 05's parameters)."""
    rows = {"source_only": "source_only", "teacher": "translated", "control": "control",
            "empty_stream": "empty_stream", "self_training": "self_training", "oracle": "oracle"}
    st = dict(options or {})
    options_of = {"control": {**st, **control_options(p)}, "empty_stream": {**st, **EMPTY_STREAM}}
    return {row: each(p.seeds, lambda s, a=a: val(adaptation_stage(a, s, options_of.get(a, st))))
            for row, a in rows.items()}


def self_training_rounds(p, options: dict | None = None) -> dict:
    """The rounds figure: the teacher (round 0) and each round's student, scored on target val; the
    self-training stages themselves hold the pseudo-label quality of each round."""
    st = lambda s: adaptation_stage("self_training", s, options)  # noqa: E731
    rows = {0: each(p.seeds, lambda s: val(S("translated", seed=s)))}
    rows.update({k: each(p.seeds, lambda s, k=k: val(st(s), k)) for k in range(1, p.st_rounds + 1)})
    return rows


DATA_DEPENDENCY = ("labeled_only", "joint", "finetuned", "target_ssl", "loop", "loop_control")


def data_dependency_stage(row: str, seed: int, fraction: float, p=None) -> Stage | None:
    """A row of the data-dependency chapter at one labeled fraction: labeled only, S+T, the translated-source
    model fine-tuned, target-only semi-supervised (a labeled-only teacher, no synthetic data), and the
    thesis' loop (the S+T model as teacher, the labels kept, the real share rising) and its control (needs the
    profile `p`: a real share of 0 in each of its rounds). None where there is nothing to pseudo-label (every
    pool image labeled)."""
    if row == "labeled_only":                       # all labels: the oracle itself (one stage, not two)
        return S("oracle", seed=seed, fraction=fraction if fraction < 1 else None)
    if row in ("joint", "finetuned"):
        return S(row, seed=seed, fraction=fraction)
    if row == "loop_control":       # the loop's control: its student rounds, the labels kept, no pseudo-labels
        if p is None:
            raise ValueError("data_dependency_stage('loop_control', ...) needs the profile p (its number of rounds)")
        loop = data_dependency_stage("loop", seed, fraction)
        return S("self_training", seed=seed, teacher=loop["teacher"], options={**dict(loop["options"]), **control_options(p)})
    teacher = data_dependency_stage("labeled_only" if row == "target_ssl" else "joint", seed, fraction)
    options = {"labeled_fraction": fraction, **({"source": False} if row == "target_ssl" else {})}
    return S("self_training", seed=seed, teacher=teacher, options=options)


def data_dependency(p) -> dict:
    """Notebook 06: {(row, fraction): {seed: score on val}}, and the no-label references."""
    pseudo = lambda f: f < 1 or p.st_pool != "train"  # noqa: E731   # all of the pool labeled: nothing to pseudo-label
    rows = {(row, f): each(p.seeds, lambda s, row=row, f=f: val(data_dependency_stage(row, s, f, p)))
            for f in p.fractions for row in DATA_DEPENDENCY if row in ("labeled_only", "joint", "finetuned") or pseudo(f)}
    rows[("teacher", None)] = each(p.seeds, lambda s: val(S("translated", seed=s)))
    rows[("self_training", None)] = each(p.seeds, lambda s: val(S("self_training", seed=s)))
    return rows


def predictions_figure(p, options: dict | None = None) -> dict:
    """Notebook 05's predictions: the first seed's teacher and student."""
    s = p.seeds[0]
    return {"teacher": {s: S("translated", seed=s)}, "student": {s: adaptation_stage("self_training", s, options)}}


NOTEBOOKS = {
    "01_datasets": [],
    "02_image_translation": [translation_figure],
    "03_direct_transfer": [direct_transfer],
    "04_domain_adaptation": [per_class],
    "05_self_training": [self_training_table, self_training_rounds, predictions_figure],
    "06_data_dependency": [data_dependency],
    "07_comparison": [per_class, direct_transfer, self_training_table, data_dependency],
}


def drawn(name: str, p) -> list[Stage]:
    """The stages whose files (models, translated images), not only results, notebook `name` reads for its
    figures: the first seed's CycleGAN, oracle, translated teacher and student."""
    s = p.seeds[0]
    return {"02_image_translation": [S("cyclegan", seed=s)],
            "03_direct_transfer": [S("cyclegan", seed=s), S("oracle", seed=s)],
            "05_self_training": stages_of(predictions_figure(p))}.get(name, [])


def stages_of(rows: dict) -> list[Stage]:
    return [s for per_seed in rows.values() for s in per_seed.values()]


def notebook(name: str, profile, **options) -> list[Stage]:
    """Every stage notebook `name` reads (the stem, e.g. "05_self_training"), at its default parameters
    unless `options` (self-training options) say otherwise."""
    out = []
    for rows in NOTEBOOKS[name]:
        takes_options = rows in (self_training_table, self_training_rounds, predictions_figure)
        out += stages_of(rows(profile, options) if takes_options and options else rows(profile))
    return list(dict.fromkeys(out))


def thesis(profile) -> list[Stage]:
    """Every stage of every notebook: what `make reproduce` computes."""
    return list(dict.fromkeys(s for name in NOTEBOOKS for s in notebook(name, profile)))

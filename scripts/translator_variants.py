"""Why translation costs road, and what fixes it: CycleGAN variants of the default profile, each judged by the
teacher trained on its translation (mIoU and road IoU on target val) and by the oracle of the same seed scored on
the translated source (how much of the source's semantics the translation keeps). Through the stage cache: a
variant is a profile override of the CycleGAN's fields, so the oracles are read, not retrained.

    python scripts/translator_variants.py [SEEDS] [VARIANT ...]      # e.g. 0,1; default: seed 0, every variant
    python scripts/translator_variants.py 0 reference resize_5000 --profile smoke   # a quick check of the path

Prints one markdown row per variant and seed.
"""
import argparse

from thesislib.runs.lab import Lab
from thesislib.runs.stages import S

VARIANTS = {     # name: (upsampling, identity-loss weight, share of the profile's gan_steps); the default: resize, 0.5, 1
    "reference": ("transpose", 0.5, 0.5),       # the previous default: the reference's generator, 2,500 steps
    "resize": ("resize", 0.5, 0.5),
    "no_identity": ("transpose", 0.0, 0.5),
    "5000_steps": ("transpose", 0.5, 1.0),
    "resize_5000": ("resize", 0.5, 1.0),         # the default
    "resize_no_identity": ("resize", 0.0, 0.5),
}


def overrides(profile: str, name: str) -> dict:
    from thesislib.profiles import get_profile
    upsample, identity, share = VARIANTS[name]
    return {"gan_upsample": upsample, "gan_identity": identity,
            "gan_steps": max(1, round(share * get_profile(profile).gan_steps))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seeds", nargs="?", default="0")
    ap.add_argument("variants", nargs="*", help=f"some of {', '.join(VARIANTS)} (default: all)")
    ap.add_argument("--profile", default="default")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    unknown = sorted(set(a.variants) - set(VARIANTS))
    if unknown:
        ap.error(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}")
    print("| variant | seed | teacher mIoU | teacher road IoU | oracle on the translated source (mIoU) |")
    print("|---|---|---|---|---|")
    for name in a.variants or VARIANTS:
        lab = Lab(a.profile, overrides=overrides(a.profile, name))
        stages = {s: (S("score", model=S("translated", seed=s), on="val"),
                      S("score", model=S("oracle", seed=s), on="translated")) for s in seeds}
        lab.compute([x for pair in stages.values() for x in pair])
        for s, (teacher, oracle) in stages.items():
            t, o = lab.result(teacher), lab.result(oracle)
            print(f"| {name} | {s} | {t['miou']:.1f} | {t['iou']['road'] or 0:.1f} | {o['miou']:.1f} |", flush=True)


if __name__ == "__main__":
    main()

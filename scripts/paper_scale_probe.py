"""Host-side figures of the paper profile, measured on real-size PNGs (GTA5-like 1914x1052, Cityscapes-like
2048x1024, written by the embedded world): milliseconds per training item of each stream on one CPU core
(so: how many loader cores feed a GPU at 150 img/s), read from the full-size files and from the one-time
working copy at 512x1024 (thesislib.data.working); and the summed RSS of a paper-profile training loader
(main process + its workers, proportional set size) against the distinct images read, extrapolated to the
24,966 GTA5 images.

    python scripts/paper_scale_probe.py OUT_DIR [N_SOURCE] [WORKERS]     -> OUT_DIR/probe.json
"""
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import torch
from PIL import Image

from thesislib.data.common import PseudoLabeled
from thesislib.data.stream import step_loader
from thesislib.data.check import ensure_checked
from thesislib.data.working import working_copy
from thesislib.methods.common import source_set, target_set
from thesislib.profiles import get_profile
from thesislib.tools.world import write_world

GTA5_IMAGES, GPU_IMAGES_PER_S = 24_966, 150     # docs/budget.md: DeepLabV3+ R50 512x1024 bf16 on an H100


def ms_per_item(dataset, n: int) -> float:
    dataset[0]                                                        # warm-up (imports, first decode)
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        dataset[i % len(dataset)]
    return 1000 * (time.perf_counter() - t0) / n


def summed_pss() -> int:
    """Proportional set size of this process and its children: shared pages (torch's libraries in every
    worker) counted once, unlike a sum of RSS."""
    me = psutil.Process()
    return sum(p.memory_full_info().pss for p in [me, *me.children(recursive=True)] if p.is_running())


def loader_pss(profile, root: Path, workers: int, n_images: int, steps: int) -> float:
    """Peak PSS (GiB) while the paper profile's GTA5 training loader draws `steps` batches from the
    first `n_images` images."""
    data = torch.utils.data.Subset(source_set(root / "gta5", profile), range(n_images))
    loader = step_loader([data], [profile.batch_size], 0, steps, num_workers=workers)(0)
    return max(summed_pss() for _ in loader) / 2**30


def memory_probe(profile, root: Path, workers: int) -> dict:
    """The same number of batches drawn from few and from many distinct images: the difference is what
    memory grows by per distinct image (0 when nothing is cached), extrapolated to the 24,966 GTA5 images;
    with a cache, its budget (`ram_cache_mb`) is the bound."""
    n = len(source_set(root / "gta5", profile))
    few, many = n // 4, n
    steps = 2 * n // profile.batch_size
    result = {"workers": workers, "batch": profile.batch_size, "steps": steps}
    for cache_mb in (0, 256):
        p = replace(profile, ram_cache_mb=cache_mb)
        small, large = loader_pss(p, root, workers, few, steps), loader_pss(p, root, workers, many, steps)
        per_image = max(large - small, 0) / (many - few)
        result[f"cache_{cache_mb}_mb"] = {
            f"peak_pss_gib_{few}_images": round(small, 3), f"peak_pss_gib_{many}_images": round(large, 3),
            "mib_per_distinct_image": round(per_image * 1024, 3),
            "extrapolated_gta5_gib": round(large + per_image * (GTA5_IMAGES - many), 2)}
    return result


def main(out: Path, n_source: int = 160, workers: int = 4) -> dict:
    torch.set_num_threads(1)
    profile = get_profile("paper-check", n_source=n_source, n_train=n_source // 2, n_val=16, n_extra=4,
                          batch_size=8, num_workers=workers)
    root = out / "world"
    write_world(root, profile)
    ensure_checked(root)
    pseudo = out / "pseudo"                                           # pseudo-labels as pass 2 writes them
    train = target_set(root, profile, "train")
    for i, name in enumerate(train.names):
        (pseudo / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(train.mask(i)).save((pseudo / name).with_suffix(".png"))
    t0 = time.perf_counter()
    copy = working_copy(root, profile.image_hw, out / "working")
    copy_seconds = time.perf_counter() - t0
    timing = {"working_copy_seconds": round(copy_seconds, 1), "images": sum(1 for _ in copy.rglob("*_leftImg8bit.png"))
              + len(list((copy / "gta5" / "images").iterdir()))}
    for where, data in (("full-size files", root), ("working copy", copy)):
        streams = {
            "GTA5 item (source-only, translated, CycleGAN source)": source_set(data / "gta5", profile),
            "Cityscapes train item (oracle, target stream)": target_set(data, profile, "train", train=True),
            "noisy student: pseudo-labeled real item (strong noise)": PseudoLabeled(
                target_set(data, profile, "train", train=True, strong=True), pseudo),
            "noisy student: GTA5 item (strong noise)": source_set(data / "gta5", profile, strong=True),
        }
        if where == "full-size files":                                # scoring reads the labels at full size
            streams["evaluation item (val, label at 2048x1024)"] = target_set(root, profile, "val", native_labels=True)
        for name, ds in streams.items():
            ms = ms_per_item(ds, 48)
            timing[f"{name}, {where}"] = {"ms_per_item_one_core": round(ms, 1),
                                          "items_per_s_per_core": round(1000 / ms, 1),
                                          "cores_for_150_img_s": int(np.ceil(GPU_IMAGES_PER_S * ms / 1000))}
            print(f"{name + ', ' + where:<76} {ms:7.1f} ms/item  -> "
                  f"{timing[f'{name}, {where}']['cores_for_150_img_s']} cores for {GPU_IMAGES_PER_S} img/s", flush=True)
    memory = memory_probe(profile, root, workers)
    print(json.dumps(memory, indent=1))
    result = {"timing": timing, "memory": memory, "load_average": list(psutil.getloadavg()),
              "cpu_count": psutil.cpu_count()}
    (out / "probe.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]), *map(int, sys.argv[2:4]))

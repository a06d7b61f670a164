"""CycleGAN (Zhu et al. 2017) between the source (A, synthetic) and target (B, real) domains,
then translation of the whole source set into the target style ("adapted synthetic" set)."""
import itertools
import os
import shutil
from pathlib import Path

import torch
from PIL import Image

from thesislib import progress
from thesislib.data.check import check_data
from thesislib.data.stream import step_loader
from thesislib.engine import CHECKPOINT, Engine, Method, default_device
from thesislib.inference import batches
from thesislib.io import atomic_write_json, writer_pool
from thesislib.losses import GANLoss, cycle_loss, identity_loss
from thesislib.methods.common import engine_config, source_set, target_set
from thesislib.models.cyclegan import ImagePool, define_D, define_G
from thesislib.profiles import Profile, loader_workers


def set_requires_grad(modules, flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


class CycleGAN(Method):
    """The reference implementation's names for the paper's (Zhu et al. 2017, Eq. 1-3; X = A = synthetic,
    Y = B = real): G_A is the paper's G: X -> Y, G_B is F: Y -> X, D_A is D_Y (judges B-domain images), D_B is
    D_X. The generators' loss is L_GAN(G, D_Y) + L_GAN(F, D_X) + lambda L_cyc (cycle_A: ||F(G(x)) - x||_1,
    cycle_B: ||G(F(y)) - y||_1) + the identity terms (idt_A: ||G(y) - y||_1, idt_B: ||F(x) - x||_1) at
    lambda_identity * lambda; each discriminator's is the least-squares GAN loss on real and pooled fakes."""

    def __init__(self, ngf=64, n_blocks=9, ndf=64, lambda_cycle=10.0, lambda_identity=0.5, pool_size=50,
                 lr=2e-4, beta1=0.5, gan_mode="lsgan", batch_size=1, upsample="transpose"):
        self.modules = {"G_A": define_G(ngf=ngf, n_blocks=n_blocks, upsample=upsample),
                        "G_B": define_G(ngf=ngf, n_blocks=n_blocks, upsample=upsample),
                        "D_A": define_D(ndf=ndf), "D_B": define_D(ndf=ndf)}
        m = self.modules
        self.optimizers = {
            # fused: one kernel per step, and the step counts stay on the device (no value read back)
            "G": torch.optim.Adam(itertools.chain(m["G_A"].parameters(), m["G_B"].parameters()), lr, betas=(beta1, 0.999),
                                  fused=True),
            "D": torch.optim.Adam(itertools.chain(m["D_A"].parameters(), m["D_B"].parameters()), lr, betas=(beta1, 0.999),
                                  fused=True),
        }
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity
        self.gan = GANLoss(gan_mode)
        self.fake_A_pool, self.fake_B_pool = ImagePool(pool_size), ImagePool(pool_size)
        self.batch_size = batch_size            # images of each domain in a batch

    def training_step(self, batch, engine):
        m, n = self.modules, self.batch_size              # the batch: n source images, then n target images
        real_A, real_B = batch["image"][:n] * 2 - 1, batch["image"][n:] * 2 - 1              # [0,1] -> [-1,1]
        # backward_G: the discriminators frozen, called unwrapped (under DDP they are synchronised in backward_D only)
        D_A, D_B = engine.raw["D_A"], engine.raw["D_B"]
        set_requires_grad([D_A, D_B], False)
        with engine.autocast():
            fake_B, fake_A = m["G_A"](real_A), m["G_B"](real_B)
            rec_A, rec_B = m["G_B"](fake_B), m["G_A"](fake_A)
            idt_A, idt_B = m["G_A"](real_B), m["G_B"](real_A)
            loss_G_A = self.gan(D_A(fake_B).float(), True)
            loss_G_B = self.gan(D_B(fake_A).float(), True)
        lam, lam_idt = self.lambda_cycle, self.lambda_cycle * self.lambda_identity
        loss_cycle_A = cycle_loss(rec_A.float(), real_A) * lam
        loss_cycle_B = cycle_loss(rec_B.float(), real_B) * lam
        loss_idt_A = identity_loss(idt_A.float(), real_B) * lam_idt
        loss_idt_B = identity_loss(idt_B.float(), real_A) * lam_idt
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        engine.step(self, "G")
        # backward_D_A and backward_D_B
        set_requires_grad([D_A, D_B], True)
        loss_D_A = self._backward_D(m["D_A"], real_B, self.fake_B_pool.query(fake_B.detach()), engine)
        loss_D_B = self._backward_D(m["D_B"], real_A, self.fake_A_pool.query(fake_A.detach()), engine)
        engine.step(self, "D")
        return {"G_A": loss_G_A, "G_B": loss_G_B, "cycle_A": loss_cycle_A, "cycle_B": loss_cycle_B,
                "idt_A": loss_idt_A, "idt_B": loss_idt_B, "D_A": loss_D_A, "D_B": loss_D_B}

    def _backward_D(self, D, real, fake, engine):
        with engine.autocast():
            loss = 0.5 * (self.gan(D(real).float(), True) + self.gan(D(fake).float(), False))
        loss.backward()
        return loss.detach()

    def extra_state(self):
        return {"fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict()}

    def load_extra_state(self, state):
        if state:
            self.fake_A_pool.load_state_dict(state["fake_A_pool"])
            self.fake_B_pool.load_state_dict(state["fake_B_pool"])


def train_cyclegan(data_root, out, profile: Profile, seed: int = 0, steps: int | None = None,
                   translate: bool = True, **engine_overrides) -> dict:
    """Train CycleGAN on random `gan_hw` crops of source images vs unlabeled target images (train +
    train_extra), both at the task model's working resolution `image_hw` (as the reference CycleGAN
    trains on crops), then translate each whole source image at `image_hw` into `out/translated`
    (GTA5 layout), so translated and untranslated source images reach the task model equally sharp."""
    data_root, out = Path(data_root), Path(out)
    size = profile.gan_hw
    src = source_set(data_root / "gta5", profile, crop=size)
    trg = torch.utils.data.ConcatDataset([target_set(data_root, profile, s, train=True, crop=size)
                                          for s in ("train", "train_extra")])
    steps = steps or profile.gan_steps
    cfg = engine_config(profile, steps, seed, lr_schedule="linear_decay", grad_clip=None, **engine_overrides)
    engine = Engine(out, cfg)
    method = CycleGAN(ngf=profile.gan_ngf, n_blocks=profile.gan_blocks, ndf=profile.gan_ndf,
                      batch_size=profile.gan_batch_size, upsample=profile.gan_upsample,
                      lambda_identity=profile.gan_identity)
    b = profile.gan_batch_size
    loader = step_loader([src, trg], [b, b], seed, steps, num_workers=loader_workers(profile))
    config = {"method": "cyclegan", "profile": profile.name, "ngf": profile.gan_ngf, "n_blocks": profile.gan_blocks,
              "ndf": profile.gan_ndf, "gan_hw": list(size), "upsample": profile.gan_upsample,
              "lambda_identity": profile.gan_identity}
    metrics = engine.fit(method, loader, config)
    if translate and not (out / "translated" / "done.json").exists():
        translate_source(out / CHECKPOINT, data_root / "gta5", out / "translated", profile)
    return metrics


def load_generator(checkpoint, profile: Profile, name: str = "G_A"):
    G = define_G(ngf=profile.gan_ngf, n_blocks=profile.gan_blocks, upsample=profile.gan_upsample)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    G.load_state_dict(state["modules"][name])
    return G.eval()


def _save_translated(image, label_file: Path, out: Path) -> None:
    """A translated image and its source label, resized (nearest) to match, in the GTA5 layout."""
    Image.fromarray(image).save(out / "images" / label_file.name)
    Image.open(label_file).resize(image.shape[1::-1], Image.NEAREST).save(out / "labels" / label_file.name)


@torch.no_grad()
def translate_source(checkpoint, source_root, out_root, profile: Profile, batch_size: int = 16) -> Path:
    """Translate every whole source image at the working resolution `image_hw` with G_A (fully
    convolutional) into `out_root` (GTA5 layout, labels resized to match, nearest).

    Written to a temporary sibling folder and renamed, so a crash leaves no half-written set."""
    out_root = Path(out_root)
    tmp = out_root.with_name(out_root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    (tmp / "labels").mkdir()
    device = default_device()
    G = load_generator(checkpoint, profile).to(device)
    src = source_set(source_root, profile, train=False)
    shown = progress.bar(out_root.parent, total=len(src), task="translating the source set")
    with writer_pool() as write:            # loader workers decode, the GPU translates, threads write PNGs
        for images, _, names in batches(src, batch_size, device, loader_workers(profile)):
            fake = ((G(images * 2 - 1) + 1) * 127.5).clamp(0, 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            for name, img in zip(names, fake):
                write(_save_translated, img, Path(source_root) / "labels" / Path(name).name, tmp)
            shown.update(len(names))
    shown.close()
    check_data("gta5", tmp, progress=False)          # class statistics for rare-class sampling
    atomic_write_json(tmp / "done.json", {"images": len(src), "checkpoint": str(checkpoint)})
    shutil.rmtree(out_root, ignore_errors=True)
    os.replace(tmp, out_root)
    return out_root

"""Adversarial adaptation: a discriminator tells source from target, the task model learns to fool it.

level="output": AdaptSegNet (Tsai et al. 2018), discriminator on the softmax segmentation maps.
level="feature": a per-location domain discriminator on the encoder's deepest features.
"""
import torch
import torch.nn.functional as F

from thesislib.losses import GANLoss
from thesislib.methods.common import SegMethod, fit_two_domain, split_domains
from thesislib.methods.cyclegan import set_requires_grad
from thesislib.models.discriminators import FeatureDiscriminator, OutputDiscriminator
from thesislib.profiles import Profile


class Adversarial(SegMethod):
    def __init__(self, profile, level="output", lambda_adv=0.001, lr_d=1e-4, **kw):
        super().__init__(profile, **kw)
        if level not in ("output", "feature"):
            raise ValueError(f"level must be 'output' or 'feature', got {level!r}")
        seg = self.modules["seg"]
        D = OutputDiscriminator(num_classes=19) if level == "output" else FeatureDiscriminator(seg.feature_channels)
        self.modules["D"] = D
        self.optimizers["D"] = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(0.9, 0.99), fused=True)
        self.level, self.lambda_adv, self.gan = level, lambda_adv, GANLoss("vanilla")

    def _domain_input(self, logits, features):
        return F.softmax(logits.float(), dim=1) if self.level == "output" else features.float()

    def training_step(self, batch, engine):
        seg, D = self.modules["seg"], self.modules["D"]
        src, trg = split_domains(batch, self.domain_counts)
        # task model: supervised on source + fool D on target (D frozen, unwrapped: DDP synchronises it in its own step)
        set_requires_grad([D], False)
        with engine.autocast():
            logits_s, feat_s = seg(src["image"], return_features=True)
            logits_t, feat_t = seg(trg["image"], return_features=True)
            d_in_s, d_in_t = self._domain_input(logits_s, feat_s), self._domain_input(logits_t, feat_t)
            loss_adv = self.gan(engine.raw["D"](d_in_t).float(), True)   # "True" = looks like source
        loss_seg = self.supervised_loss(logits_s, src)
        (loss_seg + self.lambda_adv * loss_adv).backward()
        engine.step(self, "seg")
        # discriminator: source -> True, target -> False
        set_requires_grad([D], True)
        with engine.autocast():
            loss_D = 0.5 * (self.gan(D(d_in_s.detach()).float(), True) + self.gan(D(d_in_t.detach()).float(), False))
        loss_D.backward()
        engine.step(self, "D")
        return {"loss_seg": loss_seg, "loss_adv": loss_adv, "loss_D": loss_D}


def train_adversarial(data_root, out, profile: Profile, seed: int = 0, level: str = "output",
                      lambda_adv: float = 0.001, source_root=None, **kw) -> dict:
    method = lambda: Adversarial(profile, level=level, lambda_adv=lambda_adv)  # noqa: E731
    config = {"method": f"adversarial_{level}", "lambda_adv": lambda_adv}
    return fit_two_domain(method, data_root, out, profile, seed, config, source_root=source_root, **kw)

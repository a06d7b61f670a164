"""Entropy minimisation (ADVENT MinEnt, Vu et al. 2019): supervised on source, low-entropy predictions on target."""
from thesislib.losses import entropy_loss
from thesislib.methods.common import SegMethod, fit_two_domain, split_domains
from thesislib.profiles import Profile


class EntropyMin(SegMethod):
    def __init__(self, profile, lambda_ent=0.001, **kw):
        super().__init__(profile, **kw)
        self.lambda_ent = lambda_ent

    def training_step(self, batch, engine):
        src, _ = split_domains(batch, self.domain_counts)
        with engine.autocast():
            logits = self.modules["seg"](batch["image"])
        logits_s, logits_t = logits[:self.domain_counts[0]], logits[self.domain_counts[0]:]
        loss_seg = self.supervised_loss(logits_s, src)
        loss_ent = entropy_loss(logits_t.float())
        (loss_seg + self.lambda_ent * loss_ent).backward()
        engine.step(self, "seg")
        return {"loss_seg": loss_seg, "loss_ent": loss_ent}


def train_entropy(data_root, out, profile: Profile, seed: int = 0, lambda_ent: float = 0.001,
                  source_root=None, **kw) -> dict:
    method = lambda: EntropyMin(profile, lambda_ent=lambda_ent)  # noqa: E731
    config = {"method": "entropy", "lambda_ent": lambda_ent}
    return fit_two_domain(method, data_root, out, profile, seed, config, source_root=source_root, **kw)

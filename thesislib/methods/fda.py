"""FDA (Yang & Soatto, CVPR 2020): swap the low-frequency amplitude of source images with a target
image's, then train on the stylised source. A cheap input-level baseline."""
import torch

from thesislib.methods.common import SegMethod, fit_two_domain, split_domains
from thesislib.profiles import Profile


def fda_source_to_target(src: torch.Tensor, trg: torch.Tensor, beta: float = 0.01) -> torch.Tensor:
    """Source images with the centre (2*b+1)^2 low-frequency amplitudes of `trg`, b = floor(beta*min(H, W))."""
    fft_src, fft_trg = torch.fft.fft2(src.float()), torch.fft.fft2(trg.float())
    amp_src, pha_src = fft_src.abs(), fft_src.angle()
    amp_src = torch.fft.fftshift(amp_src, dim=(-2, -1))
    amp_trg = torch.fft.fftshift(fft_trg.abs(), dim=(-2, -1))
    h, w = src.shape[-2:]
    b = int(beta * min(h, w))
    ch, cw = h // 2, w // 2
    amp_src[..., ch - b: ch + b + 1, cw - b: cw + b + 1] = amp_trg[..., ch - b: ch + b + 1, cw - b: cw + b + 1]
    amp_src = torch.fft.ifftshift(amp_src, dim=(-2, -1))
    return torch.fft.ifft2(torch.polar(amp_src, pha_src)).real


class FDA(SegMethod):
    def __init__(self, profile, beta=0.01, **kw):
        super().__init__(profile, **kw)
        self.beta = beta

    def training_step(self, batch, engine):
        src, trg = split_domains(batch, self.domain_counts)
        src["image"] = fda_source_to_target(src["image"], trg["image"], self.beta).clamp(0, 1)
        with engine.autocast():
            logits = self.modules["seg"](src["image"])
        loss = self.supervised_loss(logits, src)
        loss.backward()
        engine.step(self, "seg")
        return {"loss": loss}


def train_fda(data_root, out, profile: Profile, seed: int = 0, beta: float = 0.01, **kw) -> dict:
    """Source-only training on FDA-stylised source images (styles from unlabeled target-train images)."""
    method = lambda: FDA(profile, beta=beta)  # noqa: E731
    kw.setdefault("steps", profile.steps)      # from scratch, as long as source-only; only source images are learned from
    return fit_two_domain(method, data_root, out, profile, seed, {"method": "fda", "beta": beta}, **kw)

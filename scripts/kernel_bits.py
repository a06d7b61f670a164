"""Do the CPU kernels torch picks change a training's bits? 30 AdamW steps of the default's segmenter on one fixed
batch, one thread, under each kernel setting; prints torch's vector units, the final loss and a weights digest.

    python scripts/kernel_bits.py            # every setting, each in a fresh process
    python scripts/kernel_bits.py --one      # this process' environment only

On the AVX2 machine of 2026-12-07 the caps of thesislib/cpu.py gave `35ce48f6617a8c3b` (docs/budget.md, "CPU
kinds"); the same digest on an AVX-512 machine says the caps make it train the ledger's models.
"""
import hashlib
import os
import subprocess
import sys

from thesislib.cpu import PINS

SETTINGS = ({}, PINS, {"ATEN_CPU_CAPABILITY": "default"}, {"ONEDNN_MAX_CPU_ISA": "SSE41"}, {"MKL_CBWR": "AVX2"})


def train_once() -> str:
    import torch
    from thesislib.models.segmentation import build_segmenter
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = build_segmenter("resnet18", decoder_channels=128)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 3, 64, 128, generator=g), torch.randint(0, 19, (8, 64, 128), generator=g)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    digest = hashlib.sha256(b"".join(t.detach().contiguous().numpy().tobytes() for t in net.state_dict().values()))
    return f"{torch.backends.cpu.get_cpu_capability():8} loss {loss.item():.10f}  weights {digest.hexdigest()[:16]}"


if __name__ == "__main__":
    if "--one" in sys.argv:
        print(train_once())
    else:
        clean = {k: v for k, v in os.environ.items() if k not in (*PINS, "MKL_CBWR")}
        for setting in SETTINGS:
            out = subprocess.run([sys.executable, __file__, "--one"], env={**clean, **setting}, capture_output=True,
                                 text=True, check=True).stdout.strip()
            print(f"{' '.join(f'{k}={v}' for k, v in setting.items()) or 'native':45} {out}", flush=True)

"""The throughput benchmark on minuscule sizes (CPU, seconds)."""
import json
import os
import platform
import subprocess
import sys

import pytest
import torch

from thesislib.cpu import PINS
from thesislib.tools import bench

TINY = bench.Sizes(encoder="resnet18", decoder_channels=8, seg_hw=(32, 32), seg_batch=2, gan_hw=(32, 32),
                   gan_ngf=4, gan_blocks=1, gan_batches=(1,), warmup=0, min_steps=1, min_seconds=0.0,
                   max_steps=1, peak_n=64, configs=("fp32_eager", "bf16_cl"),
                   skipped={"bf16_cl_compile": "skipped in the test"})


@pytest.fixture
def one_thread():
    """One intra-op thread: on a small shared CPU two threads make these tiny steps ~10x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_tiny_cpu_run_writes_json(tmp_path, capsys, one_thread):
    out = tmp_path / "sub" / "bench.json"
    assert bench.main(out, "default", sizes=TINY, device="cpu") == 0
    res = json.loads(out.read_text())
    assert res["complete"] is True and res["device_type"] == "cpu"
    for key in ("device", "torch", "peak", "models", "sizes", "notes"):
        assert key in res
    assert res["peak"]["bf16_matmul_flops"] > 0 or "bf16_matmul_error" in res["peak"]
    assert set(res["models"]) == {"deeplabv3plus", "cyclegan_b1"}
    for model in res["models"].values():
        assert model["flops_per_step"] > 0
        assert set(model["configs"]) == {"fp32_eager", "bf16_cl", "bf16_cl_compile"}
        assert model["configs"]["bf16_cl_compile"] == {"skipped": "skipped in the test"}
        base = model["configs"]["fp32_eager"]
        for k in ("images_per_s", "step_s", "flops_per_step", "achieved_tflops", "fraction_of_bf16_peak",
                  "speedup_vs_fp32_eager"):
            assert k in base, k
        assert base["images_per_s"] > 0 and base["step_s"] > 0 and base["speedup_vs_fp32_eager"] == 1.0
        assert base["losses_finite"]
        fast = model["configs"]["bf16_cl"]   # measured, or a recorded failure: never a crash
        assert fast.get("images_per_s", 1) > 0 and ("images_per_s" in fast or "error" in fast)
    assert not list(out.parent.glob("*.tmp"))          # atomic write leaves no temp file
    assert "fp32_eager" in capsys.readouterr().out     # the table is printed


def test_sizes_for_profiles():
    cpu = bench.sizes_for("default", cuda=False)
    assert (cpu.encoder, cpu.seg_hw, cpu.seg_batch, cpu.gan_ngf, cpu.gan_blocks) == ("resnet18", (64, 128), 8, 16, 3)
    assert "bf16_cl_compile" not in cpu.configs and "bf16_cl_compile" in cpu.skipped
    gpu = bench.sizes_for("default", cuda=True)      # on CUDA "default" means the paper's sizes
    assert (gpu.encoder, gpu.decoder_channels, gpu.seg_hw, gpu.seg_batch) == ("resnet50", 256, (512, 1024), 8)
    assert (gpu.gan_ngf, gpu.gan_blocks, gpu.gan_hw, gpu.gan_batches) == (64, 9, (256, 512), (1, 4))
    assert gpu.configs == tuple(bench.CONFIGS) and gpu.peak_n == 8192


def test_unknown_config_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown bench config"):
        bench.run(tmp_path / "b.json", sizes=bench.Sizes(configs=("fp16",)), device="cpu")


def test_paper_profile_bench_needs_no_pretrained_weights(tmp_path, monkeypatch, one_thread):
    """The paper profile starts from ImageNet weights; its throughput benchmark must run without them
    (an offline GPU machine with an empty torch cache, as seen on an H200)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-cache"))
    out = tmp_path / "bench.json"
    assert bench.main(out, "paper", sizes=TINY, device="cpu") == 0
    fp32 = json.loads(out.read_text())["models"]["deeplabv3plus"]["configs"]["fp32_eager"]
    assert "error" not in fp32 and fp32["images_per_s"] > 0


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the caps name x86 vector units")
def test_the_cli_caps_cpu_kernels_at_avx2_before_torch_loads_and_a_users_value_wins():
    """`python -m thesislib` (every make target) computes with AVX2 kernels on any x86 CPU, so an AVX-512 machine
    trains the ledger's models (thesislib/cpu.py); a value set by the user is kept; a process that loaded torch
    first (pytest) caps nothing, so its spawned workers compute as it does."""
    probe = ("import json, os, thesislib.__main__, torch; print(json.dumps([os.environ.get(k) for k in "
             "('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA')] + [torch.backends.cpu.get_cpu_capability()]))")
    clean = {k: v for k, v in os.environ.items() if k not in PINS}

    def run(**env):
        out = subprocess.run([sys.executable, "-c", probe], env={**clean, **env}, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.splitlines()[-1])

    aten, onednn, used = run()
    assert (aten, onednn) == ("avx2", "AVX2") and used in ("AVX2", "DEFAULT")   # never AVX512
    assert run(ATEN_CPU_CAPABILITY="default") == ["default", "AVX2", "DEFAULT"]
    late = subprocess.run([sys.executable, "-c", "import torch; " + probe], env=clean, capture_output=True, text=True)
    assert json.loads(late.stdout.splitlines()[-1])[:2] == [None, None]     # torch loaded first: workers not capped

"""The same CPU kernels on every x86 machine, so that a stage computed on any of them gives the ledger's numbers.

torch picks its vector kernels (ATen) and oneDNN its convolutions by the CPU's vector units, and their float sums
differ: AVX-512 machines trained other teachers than AVX2 ones for the same stage keys (docs/budget.md, "CPU
kinds"). Every ledger entry so far is from AVX2, so both are capped at AVX2; on an AVX2 machine the caps change
no bit (measured: docs/budget.md). MKL is left alone: any `MKL_CBWR` changes this machine's numbers too.
"""
import os
import platform
import sys

PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def pin_kernels() -> None:
    """Cap torch's and oneDNN's kernels at AVX2 on x86 (a value already in the environment wins). Spawned stage
    workers and notebook kernels inherit the environment. Nothing is capped once torch is loaded (a test session):
    this process could not follow, and its workers would compute otherwise."""
    if platform.machine().lower() not in ("x86_64", "amd64") or "torch" in sys.modules:
        return
    for name, value in PINS.items():
        os.environ.setdefault(name, value)

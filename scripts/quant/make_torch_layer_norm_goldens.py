#!/usr/bin/python3
"""Goldens for fqvit::torch_cpu::layer_norm: torch.nn.functional.layer_norm on float32 CPU rows, which the C++ kernel
must reproduce bit for bit.

Usage: /usr/bin/python3 scripts/quant/make_torch_layer_norm_goldens.py [out.safetensors]
(default tests/numerics/data/torch_layer_norm_goldens.safetensors). Needs Debian 12's python3-torch 1.13 with CPU
capability AVX2, the build the FQ-ViT reference ran on; refuses to run on another.

Each case <name> stores <name>.x [rows, channels], <name>.gamma, <name>.beta [channels], <name>.eps [1] and torch's
output <name>.y. Widths cover ViT/DeiT/Swin (96, 192, 384, 768), every branch of torch's RowwiseMoments (fewer than
8 channels: no full vector; a scalar tail; one, several and a cascade of 16-vector Welford chunks) and the data that
stresses it: ViT-Tiny's massive-activation channel (~ -590 beside +-6 values), a large common offset, tiny scales.
"""
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from reference import safetensors_io  # noqa: E402

DEFAULT_OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "model",
                                            "data", "torch_layer_norm_goldens.safetensors"))


def check_torch():
    config = torch.__config__.show()
    capability = re.search(r"CPU capability usage: (\w+)", config)
    if not torch.__version__.startswith("1.13") or capability is None or capability.group(1) != "AVX2":
        sys.exit(f"need Debian's torch 1.13 with CPU capability AVX2; found torch {torch.__version__}, "
                 f"capability {capability.group(1) if capability else 'unknown'}")
    return capability.group(1)


def vit_tiny_rows(rng, rows, channels, outlier_channel):
    """+-6 activations with one massive channel near -590, as ViT-Tiny's residual stream has."""
    x = np.clip(rng.standard_normal((rows, channels)) * 2.0, -6.0, 6.0)
    x[:, outlier_channel] = rng.uniform(-600.0, -580.0, rows)
    return x


def make_cases(rng):
    """(name, x, eps) for every case; gamma and beta are drawn per case."""
    normal = lambda rows, channels, scale=1.0, offset=0.0: rng.standard_normal((rows, channels)) * scale + offset
    return [
        ("vit_tiny_192", normal(12, 192), 1e-6),
        ("vit_tiny_192_massive", vit_tiny_rows(rng, 8, 192, 137), 1e-6),
        ("deit_s_384", normal(8, 384, 1.5), 1e-6),
        ("deit_s_384_massive", vit_tiny_rows(rng, 4, 384, 5), 1e-6),
        ("deit_b_768", normal(4, 768, 0.8), 1e-6),
        ("swin_t_96", normal(16, 96, 1.2), 1e-5),
        ("swin_t_96_massive", vit_tiny_rows(rng, 4, 96, 40), 1e-5),
        ("c1", normal(8, 1), 1e-5),
        ("c7", normal(8, 7), 1e-5),
        ("c13", normal(8, 13, 3.0), 1e-6),
        ("c100", normal(8, 100), 1e-5),
        ("c197", normal(8, 197, 2.0), 1e-6),
        ("c197_massive", vit_tiny_rows(rng, 4, 197, 196), 1e-6),
        ("c264_offset", normal(4, 264, 1.0, 1000.0), 1e-5),       # 33 vectors: 3 chunks, a 2-level cascade
        ("c2312_cascade", normal(2, 2312, 1.0, -3.0), 1e-6),      # 289 vectors: 19 chunks, 5 levels
        ("c192_tiny_scale", normal(8, 192, 1e-3, 2e-3), 1e-6),    # variance below eps
        ("c384_huge_scale", normal(4, 384, 50.0), 1e-5),
    ]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    capability = check_torch()
    rng = np.random.default_rng(20260101)
    tensors = {}
    for name, x, eps in make_cases(rng):
        channels = x.shape[1]
        x = x.astype(np.float32)
        gamma = (1.0 + 0.5 * rng.standard_normal(channels)).astype(np.float32)
        beta = (0.2 * rng.standard_normal(channels)).astype(np.float32)
        y = torch.nn.functional.layer_norm(torch.from_numpy(x), (channels,), torch.from_numpy(gamma),
                                           torch.from_numpy(beta), eps).numpy()
        tensors.update({f"{name}.x": x, f"{name}.gamma": gamma, f"{name}.beta": beta, f"{name}.y": y,
                        f"{name}.eps": np.array([eps], dtype=np.float32)})
    safetensors_io.write(out, tensors, metadata={
        "generator": "scripts/quant/make_torch_layer_norm_goldens.py",
        "torch": torch.__version__, "cpu_capability": capability})
    print(f"wrote {len(tensors) // 5} cases to {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()

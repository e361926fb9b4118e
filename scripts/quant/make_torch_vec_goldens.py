#!/usr/bin/python3
"""Goldens for fqvit's torch-numerics kernels (src/numerics/torch_vec_ops.cc, torch_kernels.cc): torch 1.13's own
F.gelu, softmax, F.linear and (q @ k^T) on seeded random data, run by Debian's python3-torch (CPU capability AVX2,
OpenBLAS), which is what the FQ-ViT reference ran on. The test asserts bit equality. OpenBLAS and oneDNN pick their
kernels by CPU, so the bits are only reproducible on the machine's own kernel family: the ctest fixture
`torch_kernel_goldens` runs this script on the test machine (a second or two) instead of committing a file; the file
records the platform (OpenBLAS kernel family, AVX-512 or not) all the same.

Usage: /usr/bin/python3 scripts/quant/make_torch_vec_goldens.py build/goldens/torch_vec_goldens.safetensors
Exit 77 (ctest's "skipped") without python3-torch.
"""
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("make_torch_vec_goldens.py: PyTorch (python3-torch) not available: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from reference import safetensors_io  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
from torch_platform import platform  # noqa: E402


def main(out):
    torch.set_num_threads(2)  # the reference's setting; GELU's parallel chunks depend on it
    g = torch.Generator().manual_seed(0)
    t = {}
    # GELU (oneDNN eltwise_gelu_erf in torch 1.13): a vector-multiple length and an odd one (masked tail).
    gelu_big = torch.randn(1, 8, 640, generator=g) * 3
    gelu_big.view(-1)[:64] = torch.linspace(-12, 12, 64)
    t["gelu_big.x"], t["gelu_big.y"] = gelu_big, F.gelu(gelu_big)
    gelu_small = torch.randn(1001, generator=g) * 4
    t["gelu_small.x"], t["gelu_small.y"] = gelu_small, F.gelu(gelu_small)
    # Softmax over attention rows (197), a tail-free width (64) and a width under one vector (5).
    for cols in (197, 64, 5):
        x = torch.randn(40, cols, generator=g) * 6
        t[f"softmax_{cols}.x"], t[f"softmax_{cols}.y"] = x, x.softmax(dim=-1)
    # Linear with K = 192 (one OpenBLAS K block) and K = 768 (two: bias + block 1 + block 2).
    for k in (192, 768):
        x = torch.randn(1, 12, k, generator=g)
        w = torch.randn(16, k, generator=g) * 0.05
        b = torch.randn(16, generator=g)
        t[f"linear_{k}.x"], t[f"linear_{k}.w"], t[f"linear_{k}.b"] = x, w, b
        t[f"linear_{k}.y"] = F.linear(x, w, b)
    # Attention products on a fused qkv buffer [B, N, 3, H, dh], as the reference's reshape/permute.
    qkv = torch.randn(1, 50, 3 * 192, generator=g)
    q, k, v = qkv.reshape(1, 50, 3, 3, 64).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1)) * 0.125
    t["attn.qkv"], t["attn.scores"] = qkv, scores
    t["attn.context"] = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(1, 50, 192)
    # Swin window attention: several windows (outer > 1, so matmul copies k^T, unless one head makes the reshape a
    # view) and small products (49 x 49 x 32 goes to OpenBLAS's small-matrix kernels), q scaled first.
    for name, heads in (("swin_attn", 2), ("swin_attn_h1", 1)):
        wins, dh = 2, 32
        wqkv = torch.randn(wins, 49, 3 * heads * dh, generator=g)
        q, k, v = wqkv.reshape(wins, 49, 3, heads, dh).permute(2, 0, 3, 1, 4)
        wscores = (q * dh ** -0.5) @ k.transpose(-2, -1)
        t[f"{name}.qkv"], t[f"{name}.scores"] = wqkv, wscores
        t[f"{name}.context"] = (wscores.softmax(dim=-1) @ v).transpose(1, 2).reshape(wins, 49, heads * dh)
    # Patch embedding conv (torch's mkldnn path).
    img = torch.randn(2, 3, 32, 48, generator=g)
    cw = torch.randn(16, 3, 16, 16, generator=g) * 0.05
    cb = torch.randn(16, generator=g)
    t["conv.x"], t["conv.w"], t["conv.b"] = img, cw, cb
    t["conv.y"] = F.conv2d(img, cw, cb, stride=16).flatten(2).transpose(1, 2)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"  # a reader never sees a half-written file
    safetensors_io.write(tmp, {k: v.contiguous().numpy() for k, v in t.items()}, metadata={"platform": platform()})
    os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv[1])

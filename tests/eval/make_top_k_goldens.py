#!/usr/bin/python3
"""Goldens for fqvit's top_k_classes: torch.topk(k, largest, sorted) on logits with many ties (values on a coarse grid,
as fake-quantized logits are), for 1000 classes (torch's partial_sort path) and 50 classes (nth_element + sort).

Usage: /usr/bin/python3 tests/eval/make_top_k_goldens.py tests/eval/data/top_k_goldens.safetensors
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from reference import safetensors_io  # noqa: E402


def main(out):
    g = torch.Generator().manual_seed(0)
    t = {}
    for classes in (1000, 50):
        logits = (torch.randn(16, classes, generator=g) * 2).round() * 0.25  # ~17 distinct levels: ties everywhere
        logits[0, 5] = float("nan")
        t[f"logits_{classes}"] = logits
        t[f"top5_{classes}"] = logits.topk(5, 1, True, True)[1].to(torch.int32)
    safetensors_io.write(out, {k: v.contiguous().numpy() for k, v in t.items()})


if __name__ == "__main__":
    main(sys.argv[1])

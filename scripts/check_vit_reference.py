#!/usr/bin/python3
"""Checks scripts/reference/vit.py against FQ-ViT's own FP32 logits for ViT-Tiny
(../shared/reference/golden_vit_tiny.safetensors on ../shared/models/vit_tiny_patch16_224). Exits 77 (skip) when
../shared is absent."""
import os
import sys

import numpy as np

try:
    import torch
except ImportError:  # ctest reads 77 as "skipped"
    print("PyTorch (python3-torch) not available: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import checkpoint, safetensors_io  # noqa: E402

kTolerance = 1e-4


def main():
    shared = os.environ.get("FQVIT_SHARED_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
    model_dir = os.path.join(shared, "models", "vit_tiny_patch16_224")
    golden_path = os.path.join(shared, "reference", "golden_vit_tiny.safetensors")
    if not os.path.isfile(golden_path):
        print(f"{golden_path} not found: skipped")
        return 77
    torch.set_num_threads(2)
    model, _ = checkpoint.load_checkpoint(model_dir)
    golden, _, _ = safetensors_io.read(golden_path)
    with torch.no_grad():
        logits = model(torch.from_numpy(golden["input"])).numpy()
    diff = float(np.abs(logits - golden["logits_fp32"]).max())
    print(f"ViT-Tiny: max |reference - FQ-ViT FP32| = {diff:.3g} (tolerance {kTolerance})")
    return 0 if diff <= kTolerance else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Writes checkpoint directories with seeded random weights plus golden logits from the PyTorch reference
(scripts/reference), for fqvit's C++ parity test (tests/model/vit_parity_test.cc).

Each case becomes <out>/<case>/{model.safetensors, config.json (timm hub style), golden.safetensors}; the golden
holds `input` [B, 3, H, W] (seeded normal) and `logits` [B, classes].

  make_model_goldens.py --out build/goldens                  # the big cases (a ctest fixture; not committed)
  make_model_goldens.py --out tests/data/models --which committed

A case whose golden already carries the same source hash is left as it is (the fixture runs on every ctest).
"""
import argparse
import hashlib
import json
import os
import sys

try:
    import torch
except ImportError:  # the ctest fixture reads 77 as "skipped"
    print("make_model_goldens.py: PyTorch (python3-torch) not available: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import checkpoint, safetensors_io, swin  # noqa: E402
from quant.torch_platform import platform  # noqa: E402

kBatch = 2
IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
HALF = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])

# name -> case. `dtype`: weight storage; `layout`: Swin checkpoint names; `input_dtype`: golden input storage
# (F16 keeps the 224x224 committed golden small; the logits are computed on the stored values).
CASES = {
    "deit_small_random": dict(arch="deit_small_patch16_224", img=224, classes=1000, args={}, pre=IMAGENET,
                              crop=0.875, seed=1),
    "deit_small_distilled_random": dict(arch="deit_small_distilled_patch16_224", img=224, classes=1000, args={},
                                        pre=IMAGENET, crop=0.875, seed=2),
    "swin_tiny_random": dict(arch="swin_tiny_patch4_window7_224", img=224, classes=1000, args={}, pre=IMAGENET,
                             crop=0.9, seed=3, layout="official", buffers=True),
    "swin_tiny_random_timm": dict(same_as="swin_tiny_random", layout="timm"),
    "vit_small_random_committed": dict(
        arch="vit_test_tiny", img=64, classes=10, pre=HALF, crop=0.9, seed=4, dtype="F16",
        args=dict(img_size=64, patch_size=16, embed_dim=64, depth=2, num_heads=4)),
    "deit_distilled_small_random_committed": dict(
        arch="deit_test_tiny_distilled", img=48, classes=10, pre=IMAGENET, crop=0.875, seed=5, dtype="BF16",
        args=dict(img_size=48, patch_size=8, embed_dim=48, depth=3, num_heads=3)),
    # Swin at 224 with window 7 (stages 56, 28, 14, 7: the last one is a single unshifted window); narrow so that
    # every file stays well under 1 MB.
    "swin_small_committed": dict(
        arch="swin_test_patch4_window7_224", img=224, classes=10, pre=IMAGENET, crop=0.9, seed=6, dtype="F16",
        input_dtype="F16", layout="official",
        args=dict(img_size=224, patch_size=4, embed_dim=8, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
                  window_size=7)),
    "swin_small_committed_timm": dict(same_as="swin_small_committed", layout="timm"),
}
GROUPS = {
    "big": ["deit_small_random", "deit_small_distilled_random", "swin_tiny_random", "swin_tiny_random_timm"],
    "committed": ["vit_small_random_committed", "deit_distilled_small_random_committed", "swin_small_committed",
                  "swin_small_committed_timm"],
}


def source_hash():
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for rel in ("make_model_goldens.py", "reference/vit.py", "reference/swin.py", "reference/checkpoint.py",
                "reference/safetensors_io.py"):
        with open(os.path.join(here, rel), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def resolve(name):
    case = dict(CASES[name])
    if "same_as" in case:
        base = dict(CASES[case.pop("same_as")])
        base.update(case)
        case = base
    return case


def config_json(case):
    return {
        "architecture": case["arch"],
        "num_classes": case["classes"],
        "model_args": case["args"],
        "pretrained_cfg": {"input_size": [3, case["img"], case["img"]], "interpolation": "bicubic",
                           "crop_pct": case["crop"], "crop_mode": "center", "mean": case["pre"]["mean"],
                           "std": case["pre"]["std"], "num_classes": case["classes"]},
    }


def randomize(model, seed):
    """Seeded, non-trivial weights: linears ~ trunc-normal with std gain/sqrt(fan_in) (0.5/sqrt(384) ~ 0.026 for
    DeiT-S, timm's 0.02 scale), qkv larger so attention is far from uniform, the head larger so logits are O(1);
    LayerNorm gammas in [0.5, 1.5], betas, biases, tokens, pos_embed and relative-position tables random too."""
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std):
        return (torch.randn(shape, generator=g) * std).clamp(-2 * std, 2 * std)

    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "relative_position_bias_table" not in name and not name.endswith(
                    ("cls_token", "dist_token", "pos_embed")):
                fan_in = p[0].numel()
                gain = 1.5 if ".qkv." in name else 2.0 if name.startswith("head") else 0.5
                p.copy_(normal(p.shape, gain / fan_in ** 0.5))
            elif "relative_position_bias_table" in name:
                p.copy_(normal(p.shape, 1.0))
            elif name.endswith(("cls_token", "dist_token", "pos_embed")):
                p.copy_(normal(p.shape, 0.5))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:  # LayerNorm betas and Linear / Conv biases
                p.copy_(normal(p.shape, 0.1))


def round_to_storage(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(safetensors_io.stored_value(p.numpy(), dtype)))


def make_case(name, out_dir, src_hash, force):
    case = resolve(name)
    ckpt_dir = os.path.join(out_dir, name)
    golden_path = os.path.join(ckpt_dir, "golden.safetensors")
    if not force and os.path.isfile(golden_path):
        meta = safetensors_io.read_metadata(golden_path)
        if meta.get("source_hash") == src_hash and meta.get("platform") == platform() and os.path.isfile(os.path.join(ckpt_dir, "model.safetensors")):
            print(f"{name}: up to date")
            return
    config = config_json(case)
    family, model = checkpoint.build_model(config)
    randomize(model, case["seed"])
    dtype = case.get("dtype", "F32")
    round_to_storage(model, dtype)

    g = torch.Generator().manual_seed(1000 + case["seed"])
    images = torch.randn(kBatch, 3, case["img"], case["img"], generator=g)
    input_dtype = case.get("input_dtype", "F32")
    images = torch.from_numpy(safetensors_io.stored_value(images.numpy(), input_dtype))
    with torch.no_grad():
        logits = model(images)

    state = model.state_dict()
    extra = None
    if family == "swin":
        if case["layout"] == "timm":
            state = swin.official_to_timm(state)
        elif case.get("buffers"):
            extra = swin.official_buffers(model)  # what an official .pth also carries
    checkpoint.save_checkpoint(ckpt_dir, state, config, dtype=dtype, extra=extra)
    meta = {"generator": "scripts/make_model_goldens.py", "case": name, "seed": str(case["seed"]),
            "source_hash": src_hash, "torch": torch.__version__, "platform": platform()}
    safetensors_io.write(golden_path, {"input": images.numpy(), "logits": logits.numpy()},
                         metadata=meta, dtypes={"input": input_dtype, "logits": "F32"})

    # The written directory must reproduce the logits through the loader (covers names, layout and storage).
    reloaded, _ = checkpoint.load_checkpoint(ckpt_dir)
    with torch.no_grad():
        again = reloaded(images)
    diff = (again - logits).abs().max().item()
    assert diff == 0.0, f"{name}: reloaded checkpoint differs by {diff}"
    sizes = {f: os.path.getsize(os.path.join(ckpt_dir, f)) for f in sorted(os.listdir(ckpt_dir))}
    print(f"{name}: {family} {dtype}, logits std {logits.std().item():.3f}, argmax {logits.argmax(1).tolist()}, "
          f"files {sizes}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory that receives one folder per case")
    parser.add_argument("--which", nargs="+", default=["big"],
                        help=f"cases or groups ({', '.join(GROUPS)}; cases: {', '.join(CASES)})")
    parser.add_argument("--force", action="store_true", help="rewrite up-to-date cases too")
    args = parser.parse_args()
    names = []
    for w in args.which:
        if w in GROUPS:
            names += GROUPS[w]
        elif w in CASES:
            names.append(w)
        else:
            parser.error(f"--which {w!r}: expected one of {', '.join(list(GROUPS) + list(CASES))}")
    torch.set_num_threads(2)
    assert swin.check_merge_order()
    os.makedirs(args.out, exist_ok=True)
    src_hash = source_hash()
    for name in names:
        make_case(name, args.out, src_hash, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

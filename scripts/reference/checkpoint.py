"""Checkpoint directories (model.safetensors + config.json, timm hub style) <-> the reference PyTorch models.
The architecture table mirrors the C++ one (src/io/model_config.cc); model_args override it."""
import json
import os

import numpy as np
import torch

from . import safetensors_io, swin, vit

# name -> (family, constructor args)
KNOWN = {
    "vit_tiny_patch16_224": ("vit", dict(patch_size=16, embed_dim=192, depth=12, num_heads=3)),
    "vit_small_patch16_224": ("vit", dict(patch_size=16, embed_dim=384, depth=12, num_heads=6)),
    "vit_base_patch16_224": ("vit", dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)),
    "deit_tiny_patch16_224": ("vit", dict(patch_size=16, embed_dim=192, depth=12, num_heads=3)),
    "deit_small_patch16_224": ("vit", dict(patch_size=16, embed_dim=384, depth=12, num_heads=6)),
    "deit_base_patch16_224": ("vit", dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)),
    "deit_tiny_distilled_patch16_224": ("vit", dict(patch_size=16, embed_dim=192, depth=12, num_heads=3)),
    "deit_small_distilled_patch16_224": ("vit", dict(patch_size=16, embed_dim=384, depth=12, num_heads=6)),
    "deit_base_distilled_patch16_224": ("vit", dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)),
    "swin_tiny_patch4_window7_224": ("swin", dict(patch_size=4, embed_dim=96, depths=[2, 2, 6, 2],
                                                  num_heads=[3, 6, 12, 24], window_size=7)),
    "swin_small_patch4_window7_224": ("swin", dict(patch_size=4, embed_dim=96, depths=[2, 2, 18, 2],
                                                   num_heads=[3, 6, 12, 24], window_size=7)),
    "swin_base_patch4_window7_224": ("swin", dict(patch_size=4, embed_dim=128, depths=[2, 2, 18, 2],
                                                  num_heads=[4, 8, 16, 32], window_size=7)),
}
_ARG_NAMES = {"vit": ("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio"),
              "swin": ("img_size", "patch_size", "in_chans", "embed_dim", "depths", "num_heads", "window_size",
                       "mlp_ratio")}


def model_kwargs(config):
    """(family, kwargs for vit.VisionTransformer / swin.SwinTransformer) from a parsed config.json."""
    arch = config["architecture"].split(".")[0]
    if arch in KNOWN:
        family, args = KNOWN[arch][0], dict(KNOWN[arch][1])
    elif arch.startswith(("vit_", "deit_")):
        family, args = "vit", {}
    elif arch.startswith("swin_"):
        family, args = "swin", {}
    else:
        raise ValueError(f"config.json: architecture {arch!r}: expected vit_*, deit_* or swin_*")
    for k, v in config.get("model_args", {}).items():
        if k in _ARG_NAMES[family]:
            args[k] = v
    args["num_classes"] = config.get("num_classes", 1000)
    if family == "vit":
        args["distilled"] = "distilled" in arch
    return family, args


def build_model(config):
    family, args = model_kwargs(config)
    model = vit.VisionTransformer(**args) if family == "vit" else swin.SwinTransformer(**args)
    return family, model.eval()


def load_checkpoint(ckpt_dir):
    """Returns (model in eval mode, config dict). Accepts Swin in official or timm-hub layout."""
    with open(os.path.join(ckpt_dir, "config.json")) as f:
        config = json.load(f)
    family, model = build_model(config)
    tensors, _, _ = safetensors_io.read(os.path.join(ckpt_dir, "model.safetensors"))
    if family == "swin":
        tensors = swin.timm_to_official(tensors) if swin.is_timm_layout(tensors) else {
            k: v for k, v in tensors.items() if not k.endswith(("relative_position_index", "attn_mask"))}
    state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    return model, config


def save_checkpoint(ckpt_dir, state_dict, config, dtype="F32", extra=None):
    """Writes model.safetensors (floats stored as `dtype`, integer tensors as they are) and config.json."""
    os.makedirs(ckpt_dir, exist_ok=True)
    tensors, dtypes = {}, {}
    for k, v in state_dict.items():
        arr = v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
        tensors[k] = arr
        if arr.dtype.kind == "f":
            dtypes[k] = dtype
    for k, v in (extra or {}).items():
        tensors[k] = v.detach().cpu().numpy() if torch.is_tensor(v) else v
    safetensors_io.write(os.path.join(ckpt_dir, "model.safetensors"), tensors, metadata={"format": "pt"},
                         dtypes=dtypes)
    with open(os.path.join(ckpt_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

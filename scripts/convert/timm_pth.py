#!/usr/bin/python3
"""Converts a timm / DeiT / official Swin PyTorch checkpoint (.pth state dict) into the checkpoint directory fqvit
reads: model.safetensors + config.json (timm hub style).

  timm_pth.py deit_tiny_distilled_patch16_224-b40b3cf7.pth --architecture deit_tiny_distilled_patch16_224 --out DIR

The file may hold the state dict itself or wrap it as {"model": ...} / {"state_dict": ...} (DeiT and Swin
releases); a "module." prefix (DataParallel) is dropped. Shapes (embed dim, depth, patch, image size, classes, Swin
heads and window) are read from the tensors; ViT/DeiT heads come from the architecture table or --num-heads.
Preprocessing is the family's timm default unless flags say otherwise. The result is loaded into the PyTorch
reference model (scripts/reference) with strict names and shapes before the command succeeds.
"""
import argparse
import math
import os
import re
import sys

import common
from common import ConvertError

try:
    import torch
except ImportError:
    print("timm_pth.py: needs PyTorch (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(1)


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch raises many types for a damaged file
        raise ConvertError(path, "file", f"unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                           "a PyTorch checkpoint written by torch.save") from None
    for key in ("model", "state_dict", "model_ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise ConvertError(path, "contents", type(obj).__name__, "a state dict (name -> tensor), possibly under "
                           "\"model\" or \"state_dict\"")
    return {re.sub(r"^module\.", "", k): v.detach().float() if v.is_floating_point() else v.detach()
            for k, v in obj.items()}


def tensor(state, name, path):
    if name not in state:
        raise ConvertError(path, name, "nothing", "this tensor (is --architecture the right family?)")
    return state[name]


def vit_model_args(state, path, architecture, num_heads):
    proj = tensor(state, "patch_embed.proj.weight", path)
    embed_dim, in_chans, patch = proj.shape[0], proj.shape[1], proj.shape[2]
    prefix = 2 if "dist_token" in state else 1
    tokens = tensor(state, "pos_embed", path).shape[1] - prefix
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ConvertError(path, "pos_embed", f"{tokens} patch positions", "a square grid")
    depth = len({int(m.group(1)) for k in state for m in [re.match(r"blocks\.(\d+)\.", k)] if m})
    known = common.checkpoint.KNOWN.get(architecture)
    if num_heads is None:
        if known is None:
            raise ConvertError("command line", "--num-heads", "nothing",
                               f"the head count for the unknown architecture {architecture!r}")
        num_heads = known[1]["num_heads"]
    if embed_dim % num_heads:
        raise ConvertError(path, "patch_embed.proj.weight", f"embed dim {embed_dim}", f"a multiple of {num_heads} heads")
    hidden = tensor(state, "blocks.0.mlp.fc1.weight", path).shape[0]
    args = dict(img_size=side * patch, patch_size=patch, in_chans=in_chans, embed_dim=embed_dim, depth=depth,
                num_heads=num_heads, mlp_ratio=hidden / embed_dim)
    if ("distilled" in architecture) != ("dist_token" in state):
        raise ConvertError(path, "dist_token", "present" if "dist_token" in state else "nothing",
                           f"{'a' if 'distilled' in architecture else 'no'} dist_token for {architecture!r}")
    return args, tensor(state, "head.weight", path).shape[0]


def swin_model_args(state, path, architecture, img_size):
    proj = tensor(state, "patch_embed.proj.weight", path)
    embed_dim, in_chans, patch = proj.shape[0], proj.shape[1], proj.shape[2]
    depths, heads, window = [], [], None
    stage = 0
    while any(k.startswith(f"layers.{stage}.blocks.") for k in state):
        blocks = {int(m.group(1)) for k in state for m in [re.match(rf"layers\.{stage}\.blocks\.(\d+)\.", k)] if m}
        depths.append(len(blocks))
        table = tensor(state, f"layers.{stage}.blocks.0.attn.relative_position_bias_table", path)
        heads.append(table.shape[1])
        side = math.isqrt(table.shape[0])
        if side * side != table.shape[0] or side % 2 == 0:
            raise ConvertError(path, f"layers.{stage}.blocks.0.attn.relative_position_bias_table",
                               f"{table.shape[0]} rows", "(2 * window - 1)^2 rows")
        window = window or (side + 1) // 2
        stage += 1
    if not depths:
        raise ConvertError(path, "layers.0.blocks.0.*", "nothing", "Swin stages (is --architecture right?)")
    known = common.checkpoint.KNOWN.get(architecture)
    if img_size is None:
        img_size = known[1].get("img_size", 224) if known else 224
    head = state.get("head.weight", state.get("head.fc.weight"))
    if head is None:
        raise ConvertError(path, "head.weight", "nothing", "the classifier (head.weight or head.fc.weight)")
    hidden = tensor(state, "layers.0.blocks.0.mlp.fc1.weight", path).shape[0]
    args = dict(img_size=img_size, patch_size=patch, in_chans=in_chans, embed_dim=embed_dim, depths=depths,
                num_heads=heads, window_size=window, mlp_ratio=hidden / embed_dim)
    return args, head.shape[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pth", help="the .pth file")
    parser.add_argument("--architecture", required=True,
                        help="timm architecture name (vit_*, deit_*[_distilled_*], swin_*), written to config.json")
    parser.add_argument("--out", required=True, help="checkpoint directory to create")
    parser.add_argument("--num-heads", type=int, help="ViT/DeiT attention heads (default: from the architecture)")
    parser.add_argument("--img-size", type=int, help="Swin image size (default: the architecture's, else 224)")
    common.add_preprocess_args(parser)
    args = parser.parse_args()
    architecture = args.architecture.split(".")[0]
    family = common.family_of(architecture)
    if not os.path.isfile(args.pth):
        raise ConvertError(args.pth, "file", "nothing", "an existing .pth file")
    common.check_output_dir(args.out, [args.pth])
    state = load_state_dict(args.pth)
    if family == "swin":
        model_args, classes = swin_model_args(state, args.pth, architecture, args.img_size)
        img = model_args["img_size"]
    else:
        model_args, classes = vit_model_args(state, args.pth, architecture, args.num_heads)
        img = model_args["img_size"]
    config = common.config_json(architecture, classes, img, model_args, args)
    common.write_checkpoint(args.out, {k: v.numpy() for k, v in state.items()}, config)
    common.verify(args.out)
    print(f"wrote {args.out}: {architecture}, {len(state)} tensors, {classes} classes, input {img}")
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))

#!/usr/bin/python3
"""Converts an original Google ViT / AugReg checkpoint (.npz, google-research/vision_transformer: Flax parameter
paths such as `Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel`) into the checkpoint
directory fqvit reads: model.safetensors + config.json with timm's names.

  augreg_npz.py Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_224.npz \
      --out DIR [--architecture vit_tiny_patch16_224]

The mapping is timm's `_load_weights` (vision_transformer.py) for this layout:
  embedding/kernel [P, P, C, D] (HWIO)        -> patch_embed.proj.weight [D, C, P, P]
  cls [1, 1, D], Transformer/posembed_input/pos_embedding [1, 1 + N, D] -> cls_token, pos_embed
  .../MultiHeadDotProductAttention_1/{query,key,value}/kernel [D, H, hd] -> rows of blocks.i.attn.qkv.weight
      ([q; k; v], each [H * hd, D]: kernel.reshape(D, H * hd).T); their biases [H, hd] -> qkv.bias
  .../MultiHeadDotProductAttention_1/out/kernel [H, hd, D] -> attn.proj.weight = kernel.reshape(H * hd, D).T
  .../LayerNorm_0, LayerNorm_2 (scale, bias)  -> norm1, norm2;  MlpBlock_3/Dense_0, Dense_1 -> mlp.fc1, mlp.fc2
  Transformer/encoder_norm, head/kernel [D, classes] -> norm, head (kernels transposed)
Heads and depth come from the kernels' shapes; the architecture name from the width and patch unless given.
Preprocessing defaults to AugReg's (mean = std = 0.5, bicubic, crop 0.9). Only fine-tuned classifiers convert:
a file without head/kernel, or with a pre_logits layer (the old representation layer), is refused.
"""
import argparse
import math
import os
import re
import sys

import numpy as np

import common
from common import ConvertError

WIDTH_NAMES = {192: "tiny", 384: "small", 768: "base", 1024: "large", 1280: "huge"}


def load_npz(path):
    if not os.path.isfile(path):
        raise ConvertError(path, "file", "nothing", "an existing .npz file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile / numpy raise several types for a damaged file
        raise ConvertError(path, "file", f"unreadable ({type(e).__name__})", "a numpy .npz archive") from None
    for prefix in ("opt/target/", "params/"):  # training-state and big_vision wrappers of the same tree
        if prefix + "embedding/kernel" in arrays:
            arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return arrays


def get(w, name, path, ndim):
    if name not in w:
        raise ConvertError(path, name, "nothing", "this array (an original ViT / AugReg classifier checkpoint)")
    a = np.asarray(w[name], dtype=np.float32)
    if a.ndim != ndim:
        raise ConvertError(path, name, f"shape {list(a.shape)}", f"{ndim} dimensions")
    return a


def convert(w, path):
    """Returns (timm state dict of numpy arrays, model_args, num_classes)."""
    if "pre_logits/kernel" in w:
        raise ConvertError(path, "pre_logits/kernel", "a representation layer", "none (fine-tuned AugReg models)")
    kernel = get(w, "embedding/kernel", path, 4)
    patch, in_chans, dim = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    s = {"patch_embed.proj.weight": kernel.transpose(3, 2, 0, 1),
         "patch_embed.proj.bias": get(w, "embedding/bias", path, 1),
         "cls_token": get(w, "cls", path, 3),
         "pos_embed": get(w, "Transformer/posembed_input/pos_embedding", path, 3),
         "norm.weight": get(w, "Transformer/encoder_norm/scale", path, 1),
         "norm.bias": get(w, "Transformer/encoder_norm/bias", path, 1),
         "head.weight": get(w, "head/kernel", path, 2).T,
         "head.bias": get(w, "head/bias", path, 1)}
    depth = len({m.group(1) for k in w for m in [re.match(r"Transformer/encoderblock_(\d+)/", k)] if m})
    if depth == 0:
        raise ConvertError(path, "Transformer/encoderblock_0/*", "nothing", "encoder blocks")
    heads = None
    for i in range(depth):
        b = f"Transformer/encoderblock_{i}/"
        mha = b + "MultiHeadDotProductAttention_1/"
        qkv = [get(w, f"{mha}{n}/kernel", path, 3) for n in ("query", "key", "value")]
        heads = qkv[0].shape[1]
        t = f"blocks.{i}."
        s[t + "norm1.weight"] = get(w, b + "LayerNorm_0/scale", path, 1)
        s[t + "norm1.bias"] = get(w, b + "LayerNorm_0/bias", path, 1)
        s[t + "attn.qkv.weight"] = np.concatenate([k.reshape(dim, -1).T for k in qkv])
        s[t + "attn.qkv.bias"] = np.concatenate([get(w, f"{mha}{n}/bias", path, 2).reshape(-1)
                                                 for n in ("query", "key", "value")])
        s[t + "attn.proj.weight"] = get(w, mha + "out/kernel", path, 3).reshape(-1, dim).T
        s[t + "attn.proj.bias"] = get(w, mha + "out/bias", path, 1)
        s[t + "norm2.weight"] = get(w, b + "LayerNorm_2/scale", path, 1)
        s[t + "norm2.bias"] = get(w, b + "LayerNorm_2/bias", path, 1)
        for r in range(2):
            s[t + f"mlp.fc{r + 1}.weight"] = get(w, b + f"MlpBlock_3/Dense_{r}/kernel", path, 2).T
            s[t + f"mlp.fc{r + 1}.bias"] = get(w, b + f"MlpBlock_3/Dense_{r}/bias", path, 1)
    tokens = s["pos_embed"].shape[1] - 1
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ConvertError(path, "Transformer/posembed_input/pos_embedding", f"{tokens} patch positions",
                           "a square grid plus the class token")
    hidden = s["blocks.0.mlp.fc1.weight"].shape[0]
    args = dict(img_size=side * patch, patch_size=patch, in_chans=in_chans, embed_dim=dim, depth=depth,
                num_heads=heads, mlp_ratio=hidden / dim)
    return {k: np.ascontiguousarray(v) for k, v in s.items()}, args, s["head.weight"].shape[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("npz", help="the .npz file")
    parser.add_argument("--out", required=True, help="checkpoint directory to create")
    parser.add_argument("--architecture", help="timm name for config.json (default vit_<width>_patch<P>_<size>)")
    common.add_preprocess_args(parser)
    args = parser.parse_args()
    common.check_output_dir(args.out, [args.npz])
    state, model_args, classes = convert(load_npz(args.npz), args.npz)
    architecture = args.architecture or "vit_{}_patch{}_{}".format(
        WIDTH_NAMES.get(model_args["embed_dim"], f"d{model_args['embed_dim']}"), model_args["patch_size"],
        model_args["img_size"])
    common.family_of(architecture)
    config = common.config_json(architecture, classes, model_args["img_size"], model_args, args)
    common.write_checkpoint(args.out, state, config)
    common.verify(args.out)
    print(f"wrote {args.out}: {architecture}, {len(state)} tensors, {classes} classes, input {model_args['img_size']}")
    return 0


if __name__ == "__main__":
    sys.exit(common.run(main))

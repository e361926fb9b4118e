#!/usr/bin/python3
"""Writes fuzz/corpus/quantized_file/tiny_vit.safetensors, the quantized-file fuzzer's seed: a random ViT small
enough to mutate quickly (embed 16, 1 block, 16x16 input, 5 classes; ~10 KB), calibrated by fqvit-calibrate on
three of the committed test images.

  /usr/bin/python3 fuzz/make_quantized_seed.py --calibrate build/fqvit-calibrate
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import random
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def tiny_vit(rng, d=16, hidden=32, patch=8, img=16, classes=5):
    n = (img // patch) ** 2
    def r(*shape):
        count = 1
        for s in shape:
            count *= s
        return shape, [rng.gauss(0.0, 0.2) for _ in range(count)]

    t = {"cls_token": r(1, 1, d), "pos_embed": r(1, 1 + n, d), "patch_embed.proj.weight": r(d, 3, patch, patch),
         "patch_embed.proj.bias": r(d), "norm.weight": r(d), "norm.bias": r(d), "head.weight": r(classes, d),
         "head.bias": r(classes)}
    p = "blocks.0."
    for name, shape in [("norm1.weight", (d,)), ("norm1.bias", (d,)), ("attn.qkv.weight", (3 * d, d)),
                        ("attn.qkv.bias", (3 * d,)), ("attn.proj.weight", (d, d)), ("attn.proj.bias", (d,)),
                        ("norm2.weight", (d,)), ("norm2.bias", (d,)), ("mlp.fc1.weight", (hidden, d)),
                        ("mlp.fc1.bias", (hidden,)), ("mlp.fc2.weight", (d, hidden)), ("mlp.fc2.bias", (d,))]:
        t[p + name] = r(*shape)
    config = {"architecture": "deit_fuzz_tiny", "num_classes": classes,
              "model_args": {"img_size": img, "patch_size": patch, "embed_dim": d, "depth": 1, "num_heads": 2},
              "pretrained_cfg": {"input_size": [3, img, img], "crop_pct": 1.0, "interpolation": "bilinear"}}
    return t, config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibrate", default=os.path.join(ROOT, "build", "fqvit-calibrate"))
    args = ap.parse_args()
    rng = random.Random(0)
    tensors, config = tiny_vit(rng)
    out = os.path.join(ROOT, "fuzz", "corpus", "quantized_file", "tiny_vit.safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "ckpt"))
        write_safetensors(os.path.join(tmp, "ckpt", "model.safetensors"), tensors)
        with open(os.path.join(tmp, "ckpt", "config.json"), "w") as f:
            json.dump(config, f)
        images = os.path.join(ROOT, "tests", "data", "images")
        for i, name in enumerate(["rgb8_13x11.png", "rgb420_37x23.jpg", "gray_29x17.jpg"]):
            os.makedirs(os.path.join(tmp, "calib", "n0%d" % (i % 2)), exist_ok=True)
            shutil.copy(os.path.join(images, name), os.path.join(tmp, "calib", "n0%d" % (i % 2), name))
        subprocess.run([args.calibrate, "--model", os.path.join(tmp, "ckpt"), "--calib", os.path.join(tmp, "calib"),
                        "--batch-size", "3", "--threads", "1", "--out", out], check=True)
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()

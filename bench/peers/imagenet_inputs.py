#!/usr/bin/python3
"""Real images for the ONNX Runtime int8 sanity check of bench/peers.sh: the first N images of an ImageFolder with
a label file, preprocessed as timm evaluates (resize the shorter side to input_size / crop_pct with Pillow's
bicubic or bilinear filter, center crop, scale to [0, 1], normalize with the checkpoint's mean and std), written as
raw float32 [N, 3, S, S] plus a JSON list of labels.

  imagenet_inputs.py --model DIR --data val --labels val_labels.txt --count 300 --out inputs.f32 --labels-out l.json
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image


def preprocess(path, size, crop_pct, interpolation, mean, std):
    image = Image.open(path).convert("RGB")
    w, h = image.size
    shorter = math.floor(size / crop_pct)
    if w <= h:
        new_w, new_h = shorter, int(shorter * h / w)
    else:
        new_w, new_h = int(shorter * w / h), shorter
    resample = Image.BICUBIC if interpolation == "bicubic" else Image.BILINEAR
    image = image.resize((new_w, new_h), resample)
    left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))
    x = np.asarray(image, dtype=np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return x.transpose(2, 0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint directory (its config.json's pretrained_cfg)")
    parser.add_argument("--data", required=True, help="ImageFolder directory")
    parser.add_argument("--labels", required=True, help="label file: lines 'relative/path index'")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", required=True, help="raw float32 [N, 3, S, S]")
    parser.add_argument("--labels-out", required=True, help="JSON list of the N labels")
    args = parser.parse_args()
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f).get("pretrained_cfg", {})
    size = cfg.get("input_size", [3, 224, 224])[1]
    crop_pct = cfg.get("crop_pct", 0.875)
    interpolation = cfg.get("interpolation", "bicubic")
    mean, std = cfg.get("mean", [0.485, 0.456, 0.406]), cfg.get("std", [0.229, 0.224, 0.225])
    entries = []
    with open(args.labels) as f:
        for line in f:
            if line.strip():
                rel, index = line.rsplit(maxsplit=1)
                entries.append((rel, int(index)))
    entries = entries[:args.count]
    batch = np.stack([preprocess(os.path.join(args.data, rel), size, crop_pct, interpolation, mean, std)
                      for rel, _ in entries])
    batch.astype(np.float32).tofile(args.out + ".tmp")
    os.replace(args.out + ".tmp", args.out)
    with open(args.labels_out, "w") as f:
        json.dump([index for _, index in entries], f)
    print(json.dumps({"images": len(entries), "size": size, "out": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

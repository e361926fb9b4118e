"""What both converters share: the error type, the config.json they write (timm hub style), the atomic writer,
and the check that the written directory loads into the PyTorch reference model (scripts/reference)."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reference import checkpoint, safetensors_io  # noqa: E402

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
HALF = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
# timm's eval preprocessing per family, used when the source file does not carry it: DeiT (deit.py) ImageNet
# mean/std and crop 0.875; Google's AugReg ViTs mean = std = 0.5, crop 0.9; Swin ImageNet mean/std, crop 0.9.
FAMILY_DEFAULTS = {
    "deit": dict(IMAGENET, crop_pct=0.875, interpolation="bicubic"),
    "vit": dict(HALF, crop_pct=0.9, interpolation="bicubic"),
    "swin": dict(IMAGENET, crop_pct=0.9, interpolation="bicubic"),
}


class ConvertError(Exception):
    """One line: file, field, value found, value expected (the project's error shape)."""

    def __init__(self, file, field, found, expected):
        super().__init__(f"{file}: {field}: found {found}, expected {expected}")


def add_preprocess_args(parser):
    parser.add_argument("--input-size", type=int, help="square input resolution (default: from the weights)")
    parser.add_argument("--crop-pct", type=float, help="eval crop fraction (default: the family's timm default)")
    parser.add_argument("--interpolation", choices=["bicubic", "bilinear"], help="resize filter (default bicubic)")
    parser.add_argument("--mean", type=float, nargs=3, help="normalization mean (default: the family's)")
    parser.add_argument("--std", type=float, nargs=3, help="normalization std (default: the family's)")


def family_of(architecture):
    for prefix in ("deit", "vit", "swin"):
        if architecture.startswith(prefix + "_"):
            return prefix
    raise ConvertError("command line", "--architecture", repr(architecture), "a name starting with vit_, deit_ or swin_")


def config_json(architecture, num_classes, img_size, model_args, args):
    """config.json as the timm hub writes it; preprocessing from the flags, else the family's default."""
    defaults = FAMILY_DEFAULTS[family_of(architecture)]
    size = args.input_size or img_size
    return {
        "architecture": architecture,
        "num_classes": num_classes,
        "model_args": model_args,
        "pretrained_cfg": {
            "input_size": [3, size, size],
            "interpolation": args.interpolation or defaults["interpolation"],
            "crop_pct": args.crop_pct if args.crop_pct is not None else defaults["crop_pct"],
            "crop_mode": "center",
            "mean": list(args.mean) if args.mean else defaults["mean"],
            "std": list(args.std) if args.std else defaults["std"],
            "num_classes": num_classes,
        },
    }


def check_output_dir(out_dir, inputs):
    """Refuses an output directory that would overwrite an input or an existing checkpoint."""
    for name in ("model.safetensors", "config.json"):
        target = os.path.realpath(os.path.join(out_dir, name))
        if any(os.path.realpath(i) == target for i in inputs):
            raise ConvertError(out_dir, "--out", f"{name} is the input file", "a directory apart from the input")
        if os.path.exists(target):
            raise ConvertError(out_dir, "--out", f"an existing {name}", "a new or empty directory")


def write_checkpoint(out_dir, tensors, config):
    """model.safetensors (float32; integer buffers keep their dtype) then config.json, each under a temporary name
    renamed when complete, so a failure leaves no half-written checkpoint that looks whole."""
    os.makedirs(out_dir, exist_ok=True)
    arrays = {}
    for k, v in tensors.items():
        arr = np.asarray(v)
        arrays[k] = arr.astype(np.float32) if arr.dtype.kind == "f" else arr
    safetensors_io.write(os.path.join(out_dir, "model.safetensors"), arrays, metadata={"format": "pt"})
    tmp = os.path.join(out_dir, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "config.json"))


def verify(out_dir):
    """Loads the written directory into the reference model with strict names and shapes; a mismatch is a
    ConvertError naming the tensor (nothing is left behind)."""
    try:
        checkpoint.load_checkpoint(out_dir)
    except (RuntimeError, KeyError, ValueError) as e:
        for name in ("model.safetensors", "config.json"):
            path = os.path.join(out_dir, name)
            if os.path.exists(path):
                os.remove(path)
        first = str(e).strip().splitlines()
        raise ConvertError(out_dir, "tensors", first[0] if first else type(e).__name__,
                           "the names and shapes of the reference model") from None


def run(main):
    """Runs a converter's main: a ConvertError is one line on stderr and exit status 1."""
    try:
        return main()
    except ConvertError as e:
        print(f"{os.path.basename(sys.argv[0])}: error: {e}", file=sys.stderr)
        return 1

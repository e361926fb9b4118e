#!/usr/bin/python3
"""Trains fqvit's embedded demo models on Fashion-MNIST (Debian package dataset-fashion-mnist) on the CPU and
exports them with a small calibration / validation set of PNGs, so a fresh machine has something to quantize.

  /usr/bin/python3 scripts/train_demo.py --model all            # writes demo/models/{vit,swin}_micro, demo/data

Data: 28x28 gray images zero-padded to 32x32 and stored as 8-bit gray PNGs. The eval transform of the config
(PIL open -> convert("RGB") -> Resize(32) -> CenterCrop(32) -> ToTensor -> Normalize(mean, std)) is then exactly
what training sees: a same-size Resize is the identity in Pillow (and skipped by fqvit), the crop covers the image,
convert("RGB") replicates the gray channel, ToTensor divides by 255 in float32. Training adds random horizontal
flips (and optionally shifts inside the zero border, --shift), on uint8 before normalization.
Everything is seeded; with the same PyTorch build and thread count the run is reproducible.
"""
import argparse
import gzip
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # a shared 2-core machine: no spinning OpenMP threads

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import checkpoint, safetensors_io  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = [("0_tshirt", "T-shirt/top"), ("1_trouser", "Trouser"), ("2_pullover", "Pullover"), ("3_dress", "Dress"),
           ("4_coat", "Coat"), ("5_sandal", "Sandal"), ("6_shirt", "Shirt"), ("7_sneaker", "Sneaker"),
           ("8_bag", "Bag"), ("9_ankle_boot", "Ankle boot")]
kSize = 32          # stored PNG size = model input size
kPad = (kSize - 28) // 2
kValPerClass = 50   # demo/data/val: 500 images
kCalibPerClass = 10  # demo/data/calib: 100 images
kGoldenImages = 4

MODELS = {
    "vit_micro": dict(
        architecture="vit_micro_patch4_32",
        model_args=dict(img_size=kSize, patch_size=4, embed_dim=64, depth=4, num_heads=4)),
    "swin_micro": dict(
        architecture="swin_micro_patch2_window4_32",
        model_args=dict(img_size=kSize, patch_size=2, embed_dim=24, depths=[2, 2, 2], num_heads=[2, 4, 8],
                        window_size=4)),
}


def read_idx(name):
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix):
    images = read_idx(f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return np.pad(images, ((0, 0), (kPad, kPad), (kPad, kPad))), labels


def mean_std(train_u8):
    """Pixel mean / std of the padded training images on [0, 1], rounded to 4 digits (the config's values)."""
    x = train_u8.astype(np.float64) / 255.0
    return round(float(x.mean()), 4), round(float(x.std()), 4)


def normalize(u8, mean, std):
    """uint8 [N, S, S] -> float32 [N, 3, S, S], as ToTensor + Normalize on the RGB-converted image."""
    x = torch.from_numpy(np.ascontiguousarray(u8)).float().div(255.0)
    x = (x - torch.tensor(mean, dtype=torch.float32)) / torch.tensor(std, dtype=torch.float32)
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def augment(u8, gen, max_shift):
    """Random horizontal flip and a shift of up to max_shift pixels in each direction, zero filled."""
    n = u8.shape[0]
    flips = torch.rand(n, generator=gen) < 0.5
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=gen)
    out = np.zeros_like(u8)
    for i in range(n):
        img = u8[i, :, ::-1] if flips[i] else u8[i]
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        ys, yd = (slice(0, kSize - dy), slice(dy, kSize)) if dy >= 0 else (slice(-dy, kSize), slice(0, kSize + dy))
        xs, xd = (slice(0, kSize - dx), slice(dx, kSize)) if dx >= 0 else (slice(-dx, kSize), slice(0, kSize + dx))
        out[i, yd, xd] = img[ys, xs]
    return out


def export_data(out_root, test_u8, test_labels):
    """val: the first kValPerClass test images of every class, calib: the next kCalibPerClass; files are named by
    their index in the Fashion-MNIST test split."""
    taken = {"val": [], "calib": []}
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(test_labels == c)
        taken["val"] += list(idx[:kValPerClass])
        taken["calib"] += list(idx[kValPerClass:kValPerClass + kCalibPerClass])
    for split, indices in taken.items():
        for i in indices:
            folder = os.path.join(out_root, "data", split, CLASSES[test_labels[i]][0])
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(test_u8[i], mode="L").save(os.path.join(folder, f"{i:04d}.png"), optimize=True)
    with open(os.path.join(out_root, "data", "classes.txt"), "w") as f:
        for k, (wnid, name) in enumerate(CLASSES):
            f.write(f"{k} {wnid} {name}\n")


def eval_pipeline(path, mean, std):
    """The config's eval transform, step by step as torchvision 0.14 / timm do it (see the module docstring)."""
    img = Image.open(path).convert("RGB")
    if img.size != (kSize, kSize):  # Resize(shorter side -> floor(S / crop_pct)) with crop_pct 1.0
        img = img.resize((kSize, kSize), Image.BICUBIC)
    w, h = img.size
    left, top = int(round((w - kSize) / 2.0)), int(round((h - kSize) / 2.0))
    img = img.crop((left, top, left + kSize, top + kSize))
    x = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div(255.0)
    m = torch.tensor([mean] * 3, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor([std] * 3, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s


def image_folder(root):
    items = []
    for k, (wnid, _) in enumerate(CLASSES):
        for name in sorted(os.listdir(os.path.join(root, wnid))):
            items.append((os.path.join(root, wnid, name), k))
    return items


@torch.no_grad()
def accuracy(model, x, labels, batch=500):
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += (model(x[i:i + batch]).argmax(1) == labels[i:i + batch]).sum().item()
    return 100.0 * correct / x.shape[0]


def config_for(name, mean, std):
    spec = MODELS[name]
    return {"architecture": spec["architecture"], "num_classes": len(CLASSES), "model_args": spec["model_args"],
            "pretrained_cfg": {"input_size": [3, kSize, kSize], "interpolation": "bicubic", "crop_pct": 1.0,
                               "crop_mode": "center", "mean": [mean] * 3, "std": [std] * 3,
                               "num_classes": len(CLASSES), "label_names": [n for _, n in CLASSES]}}


def train(name, args, train_u8, train_labels, test_u8, test_labels, mean, std):
    torch.manual_seed(args.seed)
    config = config_for(name, mean, std)
    _, model = checkpoint.build_model(config)
    # timm-style init: trunc-normal 0.02 for weights, zero biases, LayerNorm (1, 0), small tokens.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() >= 2:
                torch.nn.init.trunc_normal_(p, std=0.02)
            elif "norm" in pname and pname.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = train_u8.shape[0] // args.batch
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.1)
    labels_t = torch.from_numpy(train_labels)
    start = time.time()
    step = 0
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(train_u8.shape[0], generator=gen).numpy()
        running = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x = normalize(augment(train_u8[idx], gen, args.shift), mean, std)
            loss = F.cross_entropy(model(x), labels_t[idx], label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running += loss.item()
            if step % 100 == 0:
                print(f"{name} epoch {epoch} step {step}/{total} loss {running / 100:.3f} "
                      f"{time.time() - start:.0f}s", flush=True)
                running = 0.0
    model.eval()
    return model, time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(MODELS) + ["all"], default="all")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift", type=int, default=0, help="random shift augmentation, pixels (<= 2)")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_u8, train_labels = load_split("train")
    test_u8, test_labels = load_split("t10k")
    mean, std = mean_std(train_u8)
    print(f"mean {mean} std {std}")
    if not os.path.isfile(os.path.join(args.out, "data", "classes.txt")):
        export_data(args.out, test_u8, test_labels)
    val = image_folder(os.path.join(args.out, "data", "val"))
    val_x = torch.stack([eval_pipeline(p, mean, std) for p, _ in val])
    val_y = torch.tensor([k for _, k in val])
    test_x = normalize(test_u8, mean, std)
    # The exported PNGs through the eval pipeline equal the in-memory preprocessing of the same test images.
    direct = normalize(np.stack([test_u8[int(os.path.basename(p)[:4])] for p, _ in val]), mean, std)
    assert torch.equal(direct, val_x), "eval pipeline on the PNGs differs from the training preprocessing"

    for name in (list(MODELS) if args.model == "all" else [args.model]):
        model, seconds = train(name, args, train_u8, train_labels, test_u8, test_labels, mean, std)
        val_acc = accuracy(model, val_x, val_y)
        test_acc = accuracy(model, test_x, torch.from_numpy(test_labels))
        out_dir = os.path.join(args.out, "models", name)
        config = config_for(name, mean, std)
        checkpoint.save_checkpoint(out_dir, model.state_dict(), config, dtype="F32")
        with torch.no_grad():
            logits = model(val_x[:kGoldenImages])
        safetensors_io.write(os.path.join(out_dir, "golden.safetensors"),
                             {"input": val_x[:kGoldenImages].numpy(), "logits": logits.numpy()},
                             metadata={"generator": "scripts/train_demo.py",
                                       "images": ",".join(os.path.relpath(p, args.out) for p, _ in
                                                          val[:kGoldenImages])})
        summary = {"model": name, "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
                   "shift": args.shift, "label_smoothing": args.label_smoothing,
                   "threads": args.threads, "train_seconds": round(seconds), "val_top1": val_acc,
                   "test10k_top1": test_acc, "params": sum(p.numel() for p in model.parameters()),
                   "torch": torch.__version__}
        with open(os.path.join(out_dir, "train_summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

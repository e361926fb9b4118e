#!/usr/bin/python3
"""FQ-ViT's fake-quantized Swin in plain torch, calibration included: the oracle of fqvit's Swin calibration and
fake quant (tests/calibrate/swin_oracle_parity_test.cc).

It follows FQ-ViT's models/swin_quant.py, models/layers_quant.py and models/ptq/ (read there, rewritten here):
the same quantizer points in the same places, the same observer arithmetic (running per-channel max / min, reduced
to a tensor max / min for layer-wise quantizers; PTF's alpha search by the mean squared error on the last batch), the
same float ops in the same order on the float graph of scripts/reference/swin.py. Calibration runs the float graph
with every point observing; on the last batch each point fits its parameters as it is reached, and the Log-Int-Softmax
then already sees its logits quantizer's fresh scale, so it replaces the softmax in that batch (the reference's
calibration quirk). Fake quant quantizes the input, the weights (per output channel, symmetric MinMax), every point,
and runs the integer LayerNorm (in scale of the point before it, out scale of the point after it) and LIS.

Usage: fake_quant_swin.py OUT_ROOT [--images IMAGES.safetensors] [--config CONFIG ...] [--force]
  CONFIG: ptf_lis_w8a8attn4 (MinMax + PTF + LIS, 4-bit attention) and / or ptf_w8a8attn8 (MinMax + PTF, uint8
  softmax); both by default.
  IMAGES: `calib` [100, 3, 224, 224] and `eval` [8, 3, 224, 224]; seeded normal images when absent.
Writes, per CONFIG, OUT_ROOT/CONFIG/{model.safetensors, config.json} (a random micro Swin: patch 4, dim 32, depths
2-2-2-2, window 7, 10 classes), images.safetensors (the images used), qparams.json (the fitted quantizers, in the
format of shared/reference/golden_vit_tiny_qparams.json) and dump.safetensors (every point's output of the fake-quant
forward on `eval`, point name -> tensor, and `logits`). A directory made by the same sources on the same platform
from the seeded images is left as it is (the ctest fixture runs on every ctest).
"""
import argparse
import hashlib
import json
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("PyTorch (python3-torch) not available: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import checkpoint, safetensors_io, swin  # noqa: E402
from make_quant_goldens import int_layer_norm, lis  # noqa: E402
from make_model_goldens import randomize  # noqa: E402
from torch_platform import platform  # noqa: E402

EPS = torch.finfo(torch.float32).eps
kCalibImages, kCalibBatch, kEvalImages = 100, 50, 8
kLisShift = 30  # the reference's n in int_exp
CONFIG = {
    "architecture": "swin_micro_patch4_window7_224", "num_classes": 10,
    "model_args": dict(img_size=224, patch_size=4, embed_dim=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
                       window_size=7),
    "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.9,
                       "crop_mode": "center", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                       "num_classes": 10},
}
kSeed = 11
CONFIGS = ("ptf_lis_w8a8attn4", "ptf_w8a8attn8")


class Point:
    """One QAct / QIntSoftmax: MinMax layer-wise (uint<bits>) or PTF channel-wise (uint8)."""

    def __init__(self, name, bits=8, ptf=False, module="QAct"):
        self.name, self.bits, self.ptf, self.module = name, bits, ptf, module
        self.qmax = 2 ** bits - 1
        self.max_val = self.min_val = None
        self.scale = self.zero_point = None
        self.alpha = None

    def observe(self, v):  # BaseObserver.reshape_tensor + MinmaxObserver / PtfObserver.update
        v = v.detach()
        if v.dim() == 4:
            v = v.permute(0, 2, 3, 1)
        v = v.reshape(-1, v.shape[-1]).transpose(0, 1)
        cur_max, cur_min = v.max(axis=1).values, v.min(axis=1).values
        self.max_val = cur_max if self.max_val is None else torch.max(cur_max, self.max_val)
        self.min_val = cur_min if self.min_val is None else torch.min(cur_min, self.min_val)
        if not self.ptf:  # layer_wise
            self.max_val, self.min_val = self.max_val.max(), self.min_val.min()

    def fit(self, inputs):
        if not self.ptf:  # MinmaxObserver.get_quantization_params, asymmetric
            self.scale = (self.max_val - self.min_val) / float(self.qmax)
            self.scale.clamp_(EPS)
            self.zero_point = 0 - torch.round(self.min_val / self.scale)
            self.zero_point.clamp_(0, self.qmax)
            return
        max_t, min_t = self.max_val.max(), self.min_val.min()  # PtfObserver.get_quantization_params
        s8 = (max_t - min_t) / float(self.qmax)
        s8.clamp_(EPS)
        s4 = s8 / 2
        s2 = s4 / 2
        s1 = s2 / 2
        zp = 0 - torch.round(min_t / s8)
        zp.clamp_(0, self.qmax)
        mask = torch.ones_like(self.max_val)
        for j in range(inputs.shape[2]):
            data = inputs[..., j].unsqueeze(-1)
            scores = []
            for s in (s1, s2, s4, s8):
                q = ((data / s + zp).round().clamp(0, self.qmax) - zp) * s
                scores.append((data - q).abs().pow(2.0).mean())
            mask[j] *= 2 ** scores.index(min(scores))
        self.scale, self.zero_point, self.scale1 = s1 * mask, zp, s1
        self.alpha = torch.log2(mask).round().int().tolist()

    def fake_quant(self, x):  # UniformQuantizer.quant + dequantize
        shape = {2: (1, -1), 3: (1, 1, -1), 4: (1, -1, 1, 1)}[x.dim()]
        s, zp = self.scale.reshape(shape), self.zero_point.reshape(shape)
        return ((x / s + zp).round().clamp(0, self.qmax) - zp) * s

    def record(self):
        e = {"module_type": self.module, "bit_type": f"uint{self.bits}", "observer": "ptf" if self.ptf else "minmax",
             "lower_bound": 0, "upper_bound": self.qmax, "scale": self.scale.reshape(-1).tolist(),
             "zero_point": self.zero_point.reshape(-1).tolist()}
        if self.ptf:
            e["ptf_scale1"] = self.scale1.item()
            e["ptf_alpha"] = self.alpha
        return e


class FakeQuantSwin:
    def __init__(self, model, lis_attn, attn_bits):
        self.m, self.lis_attn, self.attn_bits = model, lis_attn, attn_bits
        self.points, self.weight_scales = {}, {}
        self.mode, self.last, self.dump = "calib", False, None

    # --- quantizer points -------------------------------------------------------------------------------------
    def point(self, name, ptf=False, bits=8, module="QAct"):
        if name not in self.points:
            self.points[name] = Point(name, bits, ptf, module)
        return self.points[name]

    def act(self, name, x, ptf=False):
        p = self.point(name, ptf)
        if self.mode == "calib":
            p.observe(x)
            if self.last:
                p.fit(x)
            return x
        x = p.fake_quant(x)
        self.dump[name] = x
        return x

    def softmax(self, name, logits, logits_point):
        scale = self.points[logits_point].scale
        if self.lis_attn:
            self.point(name, bits=self.attn_bits, module="QIntSoftmax")
            if scale is not None:  # QIntSoftmax.forward: LIS as soon as the logits quantizer has a scale
                out = lis(logits, scale, self.attn_bits, kLisShift)
                if self.mode == "quant":
                    self.dump[name] = out
                return out
        p = self.point(name, bits=self.attn_bits, module="QIntSoftmax")
        x = logits.softmax(dim=-1)
        if self.mode == "calib":
            p.observe(x)
            if self.last:
                p.fit(x)
            return x
        x = p.fake_quant(x)
        self.dump[name] = x
        return x

    def norm(self, x, ln, in_point, out_point, expand=1):  # QIntLayerNorm: float in calibration, integer after
        if self.mode == "calib":
            return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
        in_scale = self.points[in_point].scale.reshape(-1)
        if expand != 1:
            in_scale = in_scale.unsqueeze(-1).expand(-1, expand).T.reshape(-1)
        return int_layer_norm(x, in_scale, self.points[out_point].scale.reshape(-1), ln.weight, ln.bias)

    def weight(self, name, w):  # MinmaxObserver channel_wise, symmetric int8: s = absmax / 127.5
        if name not in self.weight_scales:
            v = w.reshape(w.shape[0], -1)
            mx = torch.max(-v.min(axis=1).values, v.max(axis=1).values)
            s = mx / (float(127 - (-128)) / 2)
            s.clamp_(EPS)
            self.weight_scales[name] = s
        if self.mode == "calib":
            return w
        s = self.weight_scales[name].reshape((-1,) + (1,) * (w.dim() - 1))
        return (w / s).round().clamp(-128, 127) * s

    def linear(self, name, x, lin):
        return F.linear(x, self.weight(name, lin.weight), lin.bias)

    # --- the graph (swin_quant.py's forward passes) -----------------------------------------------------------
    def attention(self, p, att, x, mask):
        b_, n, c = x.shape
        x = self.act(p + "attn.qact1", self.linear(p + "attn.qkv", x, att.qkv))
        qkv = x.reshape(b_, n, 3, att.num_heads, c // att.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * att.scale
        a = self.act(p + "attn.qact_attn1", q @ k.transpose(-2, -1))
        table = self.act(p + "attn.qact_table", att.relative_position_bias_table)
        bias = table[att.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()
        a = self.act(p + "attn.qact2", a + bias.unsqueeze(0))
        if mask is not None:
            nw = mask.shape[0]
            a = a.view(b_ // nw, nw, att.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            a = a.view(-1, att.num_heads, n, n)
        a = self.softmax(p + "attn.log_int_softmax", a, p + "attn.qact2")
        x = self.act(p + "attn.qact3", (a @ v).transpose(1, 2).reshape(b_, n, c))
        return self.act(p + "attn.qact4", self.linear(p + "attn.proj", x, att.proj))

    def block(self, p, blk, x, last):
        b, l, c = x.shape
        r = blk.resolution
        shortcut = x
        x = self.act(p + "qact1", self.norm(x, blk.norm1, last, p + "qact1")).view(b, r, r, c)
        if blk.shift > 0:
            x = torch.roll(x, shifts=(-blk.shift, -blk.shift), dims=(1, 2))
        w = swin.window_partition(x, blk.window)
        w = self.attention(p, blk.attn, w, blk.attn_mask)
        x = swin.window_reverse(w.view(-1, blk.window * blk.window, c), blk.window, r, r)
        if blk.shift > 0:
            x = torch.roll(x, shifts=(blk.shift, blk.shift), dims=(1, 2))
        x = self.act(p + "qact2", shortcut + x.reshape(b, l, c), ptf=True)
        h = self.act(p + "qact3", self.norm(x, blk.norm2, p + "qact2", p + "qact3"))
        h = self.act(p + "mlp.qact1", F.gelu(self.linear(p + "mlp.fc1", h, blk.mlp.fc1)))
        h = self.act(p + "mlp.qact2", self.linear(p + "mlp.fc2", h, blk.mlp.fc2))
        return self.act(p + "qact4", x + h, ptf=True)

    def merge(self, p, ds, x, last):
        b, _, c = x.shape
        x = x.view(b, ds.resolution, ds.resolution, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1).view(b, -1, 4 * c)
        x = self.act(p + "qact1", self.norm(x, ds.norm, last, p + "qact1", expand=4))
        return self.act(p + "qact2", F.linear(x, self.weight(p + "reduction", ds.reduction.weight)), ptf=True)

    def forward(self, images):
        m = self.m
        x = self.act("qact_input", images)
        pe = m.patch_embed
        x = F.conv2d(x, self.weight("patch_embed.proj", pe.proj.weight), pe.proj.bias, stride=pe.proj.stride)
        x = self.act("patch_embed.qact_before_norm", x.flatten(2).transpose(1, 2))
        x = self.act("patch_embed.qact", self.norm(x, pe.norm, "patch_embed.qact_before_norm", "patch_embed.qact"))
        last = "patch_embed.qact"
        for i, layer in enumerate(m.layers):
            for j, blk in enumerate(layer.blocks):
                x = self.block(f"layers.{i}.blocks.{j}.", blk, x, last)
                last = f"layers.{i}.blocks.{j}.qact4"
            if layer.downsample is not None:
                x = self.merge(f"layers.{i}.downsample.", layer.downsample, x, last)
                last = f"layers.{i}.downsample.qact2"
        x = self.act("qact2", self.norm(x, m.norm, last, "qact2"))
        x = self.act("qact3", torch.nn.AdaptiveAvgPool1d(1)(x.transpose(1, 2)))
        return self.act("act_out", self.linear("head", torch.flatten(x, 1), m.head))

    def records(self):
        out = {name: {"module_type": "QConv2d" if name == "patch_embed.proj" else "QLinear", "bit_type": "int8",
                      "observer": "minmax", "scale": s.tolist()} for name, s in self.weight_scales.items()}
        for name, p in self.points.items():
            if p.module == "QIntSoftmax" and self.lis_attn:
                out[name] = {"module_type": "QIntSoftmax", "bit_type": f"uint{p.bits}", "log_i_softmax": True}
            else:
                out[name] = p.record()
        return out


def source_hash():
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for rel in ("fake_quant_swin.py", "make_quant_goldens.py", "../make_model_goldens.py", "../reference/swin.py",
                "../reference/checkpoint.py", "../reference/safetensors_io.py"):
        with open(os.path.join(here, rel), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def up_to_date(out_dir, stamp):
    try:
        with open(os.path.join(out_dir, "qparams.json")) as f:
            q = json.load(f)
        return all(q.get(k) == v for k, v in stamp.items()) and os.path.isfile(os.path.join(out_dir, "dump.safetensors"))
    except (OSError, ValueError):
        return False


def run_config(out_dir, config, model, calib, images, stamp):
    os.makedirs(out_dir, exist_ok=True)
    checkpoint.save_checkpoint(out_dir, model.state_dict(), CONFIG)
    safetensors_io.write(os.path.join(out_dir, "images.safetensors"),
                         {"calib": calib.numpy(), "eval": images.numpy()})
    lis_attn = config == "ptf_lis_w8a8attn4"
    fq = FakeQuantSwin(model, lis_attn, 4 if lis_attn else 8)
    with torch.no_grad():
        batches = calib.split(kCalibBatch)
        for i, batch in enumerate(batches):
            fq.last = i + 1 == len(batches)
            fq.forward(batch)
        fq.mode, fq.dump = "quant", {}
        logits = fq.forward(images)
    dump = {k: v.detach().contiguous().numpy() for k, v in fq.dump.items()}
    dump["logits"] = logits.contiguous().numpy()
    safetensors_io.write(os.path.join(out_dir, "dump.safetensors"), dump)
    record = dict(generator="scripts/quant/fake_quant_swin.py", config=config, torch=torch.__version__, **stamp,
                  quantizers=fq.records())
    tmp = os.path.join(out_dir, "qparams.json.tmp")  # written last: its presence marks a complete directory
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "qparams.json"))
    print(f"{config}: {len(fq.points)} points, {len(fq.weight_scales)} weights, argmax {logits.argmax(1).tolist()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_root")
    parser.add_argument("--images", help="safetensors with `calib` and `eval` images (default: seeded normal)")
    parser.add_argument("--config", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--force", action="store_true", help="rewrite up-to-date directories too")
    args = parser.parse_args()
    torch.set_num_threads(2)
    stamp = {"source_hash": source_hash(), "platform": platform(), "images": args.images or "seeded"}
    todo = [c for c in args.config if args.force or not up_to_date(os.path.join(args.out_root, c), stamp)]
    for c in sorted(set(args.config) - set(todo)):
        print(f"{c}: up to date")
    if not todo:
        return 0
    _, model = checkpoint.build_model(CONFIG)
    randomize(model, kSeed)
    if args.images:
        t = safetensors_io.read(args.images)[0]
        calib, images = torch.from_numpy(t["calib"].copy()), torch.from_numpy(t["eval"].copy())
    else:
        g = torch.Generator().manual_seed(2024)
        calib = torch.randn(kCalibImages, 3, 224, 224, generator=g)
        images = torch.randn(kEvalImages, 3, 224, 224, generator=g)
    for c in todo:
        run_config(os.path.join(args.out_root, c), c, model, calib, images, stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

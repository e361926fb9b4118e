#!/usr/bin/python3
"""FQ-ViT's fake-quantized ViT forward rewritten in plain torch (the reference's quantizer formulas, with its
calibrated parameters from shared/reference/golden_vit_tiny_qparams*.json), for debugging fqvit's C++ fake-quant
path quantizer by quantizer.

Usage: fake_quant_vit.py SHARED_DIR QPARAMS_JSON GOLDEN_KEY [DUMP.safetensors]
Prints the logits' difference from the golden logits in act_out LSBs; with DUMP, writes every quantizer's output
for the 8 golden images (name -> tensor).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from reference import safetensors_io  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
from make_quant_goldens import int_layer_norm, lis  # noqa: E402


def main(shared, qparams_path, key, dump=None):
    q = json.load(open(qparams_path))["quantizers"]
    w = {k: torch.from_numpy(v.copy()) for k, v in
         safetensors_io.read(os.path.join(shared, "models/vit_tiny_patch16_224/model.safetensors"))[0].items()}
    g = safetensors_io.read(os.path.join(shared, "reference/golden_vit_tiny.safetensors"))[0]
    x = torch.from_numpy(g["input"].copy())
    want = torch.from_numpy(g[key].copy())
    out = {}

    def scale(name):
        return torch.tensor(q[name]["scale"], dtype=torch.float32)

    def act(name, t):
        e = q[name]
        s = scale(name)
        zp = torch.tensor(float(e["zero_point"][0]))
        lo, hi = e["lower_bound"], e["upper_bound"]
        shape = (1, 1, -1) if len(s) > 1 else (1,)
        r = ((t / s.reshape(shape) + zp).round().clamp(lo, hi) - zp) * s.reshape(shape)
        out[name] = r
        return r

    def wq(name):
        s = scale(name)
        wt = w[name + ".weight"]
        shape = (-1,) + (1,) * (wt.dim() - 1)
        return (wt / s.reshape(shape)).round().clamp(-128, 127) * s.reshape(shape)

    def norm(t, prefix, in_q, out_q):
        return int_layer_norm(t, scale(in_q), scale(out_q), w[prefix + ".weight"], w[prefix + ".bias"])

    b = x.shape[0]
    t = F.conv2d(x, wq("patch_embed.proj"), w["patch_embed.proj.bias"], stride=16).flatten(2).transpose(1, 2)
    t = act("patch_embed.qact", t)
    t = torch.cat((w["cls_token"].expand(b, -1, -1), t), dim=1)
    t = act("qact_embed", t)
    t = t + act("qact_pos", w["pos_embed"])
    t = act("qact1", t)
    last = "qact1"
    heads = 3
    for i in range(12):
        p = f"blocks.{i}."
        h = act(p + "qact1", norm(t, p + "norm1", last, p + "qact1"))
        bn, n, c = h.shape
        h = act(p + "attn.qact1", F.linear(h, wq(p + "attn.qkv"), w[p + "attn.qkv.bias"]))
        qkv = h.reshape(bn, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        a = (qkv[0] @ qkv[1].transpose(-2, -1)) * (c // heads) ** -0.5
        a = act(p + "attn.qact_attn1", a)
        if q[p + "attn.log_int_softmax"].get("log_i_softmax"):
            a = lis(a, scale(p + "attn.qact_attn1"), 4, 30)
            out[p + "attn.log_int_softmax"] = a
        else:
            a = act(p + "attn.log_int_softmax", a.softmax(dim=-1))
        h = act(p + "attn.qact2", (a @ qkv[2]).transpose(1, 2).reshape(bn, n, c))
        h = act(p + "attn.qact3", F.linear(h, wq(p + "attn.proj"), w[p + "attn.proj.bias"]))
        t = act(p + "qact2", t + h)
        h = act(p + "qact3", norm(t, p + "norm2", p + "qact2", p + "qact3"))
        h = act(p + "mlp.qact1", F.gelu(F.linear(h, wq(p + "mlp.fc1"), w[p + "mlp.fc1.bias"])))
        h = act(p + "mlp.qact2", F.linear(h, wq(p + "mlp.fc2"), w[p + "mlp.fc2.bias"]))
        t = act(p + "qact4", t + h)
        last = p + "qact4"
    t = norm(t, "norm", last, "qact2")[:, 0]
    t = act("qact2", t)
    logits = act("act_out", F.linear(t, wq("head"), w["head.bias"]))
    lsb = scale("act_out")[0]
    d = ((logits - want).abs() / lsb)
    print(f"{key}: mean {d.mean():.4f} LSB, max {d.max():.1f}, off {(d > 0.5).float().mean() * 100:.2f}%, "
          f"argmax equal {(logits.argmax(1) == want.argmax(1)).sum().item()}/{b}")
    if dump:
        safetensors_io.write(dump, {k: v.detach().contiguous().numpy() for k, v in out.items()})


if __name__ == "__main__":
    main(*sys.argv[1:])

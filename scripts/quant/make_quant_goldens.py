#!/usr/bin/python3
"""Small goldens for fqvit's quantizer and observer unit tests: the FQ-ViT reference formulas rewritten with the
same torch float32 operations (and the same operation order) as its code, run on seeded random data.

Usage: /usr/bin/python3 scripts/quant/make_quant_goldens.py tests/quant/data/quant_goldens.safetensors
Needs Debian's python3-torch 1.13 (CPU capability AVX2: torch.sum's reduction order is part of what is tested).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from reference import safetensors_io  # noqa: E402

EPS = torch.finfo(torch.float32).eps


def act_qparams(mn, mx, qmin=0, qmax=255):
    scale = (mx - mn) / float(qmax - qmin)
    scale.clamp_(EPS)
    zp = qmin - torch.round(mn / scale)
    zp.clamp_(qmin, qmax)
    return scale, zp


def uniform_fq(x, scale, zp, qmin, qmax):
    return ((x / scale + zp).round().clamp(qmin, qmax) - zp) * scale


def ptf_fit(max_c, min_c, data, qmin=0, qmax=255):
    max_t, min_t = max_c.max(), min_c.min()
    s8 = (max_t - min_t) / float(qmax - qmin)
    s8.clamp_(EPS)
    s4 = s8 / 2
    s2 = s4 / 2
    s1 = s2 / 2
    zp = qmin - torch.round(min_t / s8)
    zp.clamp_(qmin, qmax)
    mask = torch.ones_like(max_c)
    for j in range(data.shape[2]):
        d = data[..., j].unsqueeze(-1)
        scores = []
        for s in (s1, s2, s4, s8):
            q = ((d / s + zp).round().clamp(qmin, qmax) - zp) * s
            scores.append((d - q).abs().pow(2.0).mean())
        mask[j] *= 2 ** scores.index(min(scores))
    return s1, zp, s1 * mask, mask


def lis(x, scale, bits=4, n=30):
    coef = [0.35815147, 0.96963238, 1.0]
    coef[1] /= coef[0]
    coef[2] /= coef[0]
    x_int = x / scale
    x_int = x_int - x_int.max(dim=-1, keepdim=True)[0]
    x0_int = torch.floor(-0.6931 / scale)
    x_int = torch.max(x_int, n * x0_int)
    q = torch.floor(x_int / x0_int)
    r = x_int - x0_int * q
    b_int = torch.floor(coef[1] / scale)
    c_int = torch.floor(coef[2] / scale ** 2)
    z = r + b_int
    z = r * z
    z = z + c_int
    exp_int = torch.clamp(torch.floor(z * 2 ** (n - q)), min=0)
    total = exp_int.sum(dim=-1, keepdim=True)
    v = torch.round(total / exp_int)
    big = v.log2().floor()
    extra = (v - 2 ** big) >= 2 ** (big - 1)
    big[extra] = big[extra] + 1
    mask = big >= 2 ** bits
    qlog = torch.clamp(big, 0, 2 ** bits - 1)
    out = 2 ** (-qlog)
    out[mask] = 0
    return out


def int_layer_norm(x, in_scale, out_scale, weight, bias):
    c = x.shape[-1]
    in_scale = in_scale.reshape(1, 1, -1)
    out_scale = out_scale.reshape(1, 1, -1)
    x_q = (x / in_scale).round()
    s_min = in_scale.min()
    x_q = x_q * (in_scale / s_min).round()
    mean = x_q.mean(dim=-1) * s_min
    std = (s_min / c) * torch.sqrt(c * (x_q ** 2).sum(dim=-1) - x_q.sum(dim=-1) ** 2)
    a = (s_min / std).unsqueeze(-1) * weight.reshape(1, 1, -1) / out_scale
    sign = a.sign()
    n = torch.clamp(7 - torch.floor(torch.log2(a.abs())), 0, 31)
    m = torch.clamp(torch.floor(a.abs() * torch.pow(2, n)), 0, 255)
    b = ((bias.reshape(1, 1, -1) - (mean / std).unsqueeze(-1) * weight.reshape(1, 1, -1)) / out_scale *
         torch.pow(2, n)).round()
    return ((sign * m * x_q + b) / torch.pow(2, n)).round() * out_scale


def omse_fit(mn, mx, data, qmin=0, qmax=255):
    best = 1e10
    for i in range(90):
        nmax = mx * (1.0 - (i * 0.01))
        nmin = mn * (1.0 - (i * 0.01))
        s, zp = act_qparams(nmin, nmax, qmin, qmax)
        score = (data - uniform_fq(data, s, zp, qmin, qmax)).abs().pow(2.0).mean()
        if score < best:
            best, res = score, (s, zp, i)
    return res


def main(out):
    g = torch.Generator().manual_seed(20240501)
    t = {}
    # torch.sum order: lengths around every branch (scalar, vector tail, ilp tail, cascade levels).
    lengths = [3, 7, 8, 13, 31, 32, 64, 192, 197, 768, 1000, 4099, 20001]
    sums = []
    for i, n in enumerate(lengths):
        v = torch.randn(n, generator=g) * torch.exp2(torch.randint(-8, 30, (n,), generator=g).float())
        t[f"sum.x{i}"] = v
        sums.append(v.sum())
    t["sum.result"] = torch.stack(sums)

    # Uniform activation quantizer and weight quantizer.
    x = torch.randn(4000, generator=g) * 3 + 0.7
    for bits in (8, 4, 2):
        qmax = 2 ** bits - 1
        s, zp = act_qparams(x.min(), x.max(), 0, qmax)
        t[f"act.b{bits}.scale"] = s.reshape(1)
        t[f"act.b{bits}.zp"] = zp.reshape(1)
        t[f"act.b{bits}.fq"] = uniform_fq(x, s, zp, 0, qmax)
    t["act.x"] = x
    w = torch.randn(16, 40, generator=g) * torch.rand(16, 1, generator=g)
    t["weight.w"] = w
    for bits in (8, 6, 3):
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        mx = torch.max(-w.min(dim=1).values, w.max(dim=1).values)
        s = mx / (float(qmax - qmin) / 2)
        s.clamp_(EPS)
        t[f"weight.b{bits}.scale"] = s
        t[f"weight.b{bits}.fq"] = ((w / s.reshape(-1, 1)).round().clamp(qmin, qmax)) * s.reshape(-1, 1)

    # PTF on a residual-like stream with outlier channels: observer over 3 batches, alpha search on the last.
    c = 24
    gain = torch.ones(c)
    gain[3], gain[17], gain[9] = 9.0, 5.0, 2.5
    batches = [torch.randn(2, 7, c, generator=g) * gain + 0.3 for _ in range(3)]
    for b, batch in enumerate(batches):
        t[f"ptf.batch{b}"] = batch
    mx = torch.stack([bb.reshape(-1, c).max(0).values for bb in batches]).max(0).values
    mn = torch.stack([bb.reshape(-1, c).min(0).values for bb in batches]).min(0).values
    s1, zp, scales, mask = ptf_fit(mx, mn, batches[-1])
    t["ptf.scale1"] = s1.reshape(1)
    t["ptf.zp"] = zp.reshape(1)
    t["ptf.alpha"] = torch.log2(mask).round().to(torch.int32)
    t["ptf.fq"] = uniform_fq(batches[-1], scales.reshape(1, 1, -1), zp, 0, 255)

    # Integer LayerNorm on the PTF output above, and on a per-tensor quantized input.
    gamma = torch.randn(c, generator=g) * 0.5 + 1.0
    gamma[5] = -0.7
    beta = torch.randn(c, generator=g) * 0.2
    out_scale = torch.tensor([0.043])
    t["ln.gamma"], t["ln.beta"], t["ln.out_scale"] = gamma, beta, out_scale
    t["ln.ptf_y"] = int_layer_norm(t["ptf.fq"], scales, out_scale, gamma, beta)
    s_t, zp_t = act_qparams(batches[0].min(), batches[0].max())
    xq = uniform_fq(batches[0], s_t, zp_t, 0, 255)
    t["ln.tensor_x"], t["ln.tensor_scale"] = xq, s_t.reshape(1)
    t["ln.tensor_y"] = int_layer_norm(xq, s_t.reshape(1), out_scale, gamma, beta)

    # Log-Int-Softmax: logits quantized with their uint8 scale, and raw float logits (the calibration quirk).
    logits = torch.randn(24, 197, generator=g) * 4.0
    logits[3] = 0.0  # a constant row
    logits[5, :5] += 30.0
    s_l, zp_l = act_qparams(logits.min(), logits.max())
    lq = uniform_fq(logits, s_l, zp_l, 0, 255)
    t["lis.logits"], t["lis.scale"] = logits, s_l.reshape(1)
    t["lis.q_out_b4"] = lis(lq, s_l, 4, 30)
    t["lis.q_out_b3"] = lis(lq, s_l, 3, 30)
    t["lis.raw_out_b4"] = lis(logits, s_l, 4, 30)
    t["lis.q_out_b4_n20"] = lis(lq, s_l, 4, 20)

    # EMA / percentile / OMSE observers on 4 batches of per-tensor data.
    obs = [torch.randn(5000, generator=g) * (1.0 + 0.2 * i) + 0.1 * i for i in range(4)]
    obs[2][17] = 25.0  # an outlier
    for i, o in enumerate(obs):
        t[f"obs.batch{i}"] = o
    ema_max, ema_min = obs[0].max(), obs[0].min()
    for o in obs[1:]:
        ema_max = ema_max + 0.01 * (o.max() - ema_max)
        ema_min = ema_min + 0.01 * (o.min() - ema_min)
    t["ema.minmax"] = torch.stack([ema_min, ema_max])
    p_max = torch.quantile(obs[0], 0.99999)
    p_min = torch.quantile(obs[0], 1.0 - 0.99999)
    for o in obs[1:]:
        p_max = p_max + 0.01 * (torch.quantile(o, 0.99999) - p_max)
        p_min = p_min + 0.01 * (torch.quantile(o, 1.0 - 0.99999) - p_min)
    t["percentile.minmax"] = torch.stack([p_min, p_max])
    t["percentile.single"] = torch.stack([torch.quantile(obs[1], 0.00001), torch.quantile(obs[1], 0.99999)])
    all_min = torch.stack([o.min() for o in obs]).min()
    all_max = torch.stack([o.max() for o in obs]).max()
    s_o, zp_o, i_o = omse_fit(all_min, all_max, obs[-1])
    t["omse.qparams"] = torch.stack([s_o, zp_o])
    t["omse.step"] = torch.tensor([i_o], dtype=torch.int32)

    arrays = {k: v.detach().numpy() for k, v in t.items()}
    safetensors_io.write(out, arrays, metadata={"generator": "scripts/quant/make_quant_goldens.py",
                                                "torch": torch.__version__})
    print(f"wrote {out}: {len(arrays)} tensors, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/quant/data/quant_goldens.safetensors")

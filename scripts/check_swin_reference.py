#!/usr/bin/python3
"""Checks scripts/reference/swin.py against a naive, independent formulation of Swin attention: every token
attends over the whole feature map with a dense mask (same shifted window, same shift region) and a bias looked
up from the relative offset, so no roll, window partition or precomputed index is involved.
Also checks that timm's patch-merging order equals the official concat, and the official<->timm converters."""
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # ctest reads 77 as "skipped"
    print("PyTorch (python3-torch) not available: skipped")
    sys.exit(77)

sys.path.insert(0, __import__("os").path.dirname(__file__))
from reference import swin  # noqa: E402

kTolerance = 1e-4


def region(coord, res, window, shift):
    if shift == 0:
        return torch.zeros_like(coord)
    return (coord >= res - window).long() + (coord >= res - shift).long()


def naive_block(blk, x):
    b, l, c = x.shape
    res, w, s = blk.resolution, blk.window, blk.shift
    rows = torch.arange(res).repeat_interleave(res)
    cols = torch.arange(res).repeat(res)
    r, cc = (rows - s) % res, (cols - s) % res  # coordinates in the shifted frame
    same = ((r[:, None] // w) == (r[None, :] // w)) & ((cc[:, None] // w) == (cc[None, :] // w))
    same &= region(r, res, w, s)[:, None] == region(r, res, w, s)[None, :]
    same &= region(cc, res, w, s)[:, None] == region(cc, res, w, s)[None, :]
    dr, dc = (r[:, None] % w) - (r[None, :] % w), (cc[:, None] % w) - (cc[None, :] % w)
    index = (dr + w - 1) * (2 * w - 1) + (dc + w - 1)
    att = blk.attn
    heads = att.num_heads
    bias = att.relative_position_bias_table[index.clamp(0, (2 * w - 1) ** 2 - 1)].permute(2, 0, 1)  # h, L, L
    h = blk.norm1(x)
    qkv = F.linear(h, att.qkv.weight, att.qkv.bias).reshape(b, l, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    logits = (q * att.scale) @ k.transpose(-2, -1) + bias
    logits = logits.masked_fill(~same, float("-inf"))
    y = att.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(b, l, c))
    x = x + y
    return x + blk.mlp(blk.norm2(x))


def naive_forward(model, img):
    x = model.patch_embed(img)
    for layer in model.layers:
        for blk in layer.blocks:
            x = naive_block(blk, x)
        if layer.downsample is not None:
            ds = layer.downsample
            b, _, c = x.shape
            g = x.view(b, ds.resolution, ds.resolution, c)
            merged = g.reshape(b, ds.resolution // 2, 2, ds.resolution // 2, 2, c).permute(0, 1, 3, 4, 2, 5)
            x = ds.reduction(ds.norm(merged.reshape(b, -1, 4 * c)))  # timm's merge order
    return model.head(model.norm(x).mean(1))


def main():
    torch.manual_seed(0)
    ok = swin.check_merge_order()
    print(f"timm merge order == official concat: {ok}")
    for cfg in (dict(img_size=64, patch_size=4, embed_dim=16, depths=[2, 2, 2], num_heads=[1, 2, 4], window_size=4),
                dict(img_size=56, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 2], window_size=7)):
        model = swin.SwinTransformer(num_classes=7, **cfg).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.5) + (1.0 if p.dim() == 1 else 0.0))
            img = torch.randn(2, 3, cfg["img_size"], cfg["img_size"])
            diff = (model(img) - naive_forward(model, img)).abs().max().item()
            sd = model.state_dict()
            round_trip = swin.timm_to_official(swin.official_to_timm(sd))
            same = round_trip.keys() == sd.keys() and all(torch.equal(round_trip[k], sd[k]) for k in sd)
        print(f"{cfg}: max |windowed - naive| = {diff:.3g}, converters round-trip: {same}")
        ok = ok and diff < kTolerance and same
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Plain PyTorch Swin Transformer (v1) in the OFFICIAL / FQ-ViT checkpoint layout, plus converters to and from the
current timm hub layout. Written for fqvit as the float reference of its C++ Swin graph.

Facts (microsoft/Swin-Transformer models/swin_transformer.py, FQ-ViT models/swin_quant.py):
- patch_embed: Conv2d(in, C, k=stride=P), flatten to tokens, LayerNorm (patch_embed.norm).
- stage i: blocks then `layers.{i}.downsample` (PatchMerging) closing the stage, except the last stage.
- block: x + attn(norm1(x)) with (shifted) windows, then x + mlp(norm2(x)); even blocks W-MSA, odd blocks shift by
  window // 2 (SW-MSA). If a stage's resolution <= window: window = resolution and no shift.
- attention per window: q = q * head_dim**-0.5; attn = q @ k^T + relative position bias [+ mask]; softmax; @ v.
  The bias is table[index] with the index rebuilt from the window size (never read from a file).
  The shift mask is 0 inside a region and -100 across regions.
- PatchMerging: cat([x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]]) (row, col), LayerNorm(4C),
  Linear(4C, 2C, bias=False).
- head: final LayerNorm on every token, mean over tokens, Linear. LayerNorm eps 1e-5, GELU exact (erf).

Current timm (timm/models/swin_transformer.py, checkpoint_filter_fn): the merging opens the NEXT stage
(`layers.{i+1}.downsample.*`), the classifier is `head.fc.*`, and `relative_position_index` / `attn_mask` are not
stored. Its PatchMerging is reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3), i.e. the
column offset is the outer index: (r0,c0), (r1,c0), (r0,c1), (r1,c1), the same order as the official concat, so no
weight is permuted (checkpoint_filter_fn only renames). check_merge_order() verifies this numerically.
"""
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-5
MASK_VALUE = -100.0


def relative_position_index(window):
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))  # 2, W, W
    flat = coords.flatten(1)                                   # 2, W*W
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0)  # W*W, W*W, 2
    rel = rel + (window - 1)
    return rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]      # W*W, W*W


def window_partition(x, window):
    """[B, H, W, C] -> [B * nW, window*window, C], windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def window_reverse(windows, window, h, w):
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def shift_attention_mask(resolution, window, shift):
    """[nW, N, N] with 0 inside one of the 9 shifted regions and MASK_VALUE across regions."""
    img = torch.zeros(1, resolution, resolution, 1)
    cnt = 0
    bounds = ((0, -window), (-window, -shift), (-shift, None))
    for hs in bounds:
        for ws in bounds:
            img[:, hs[0]:hs[1], ws[0]:ws[1], :] = cnt
            cnt += 1
    win = window_partition(img, window).squeeze(-1)  # nW, N
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return torch.where(diff != 0, torch.tensor(MASK_VALUE), torch.tensor(0.0))


class WindowAttention(nn.Module):
    def __init__(self, dim, window, num_heads):
        super().__init__()
        self.window, self.num_heads = window, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU


class SwinBlock(nn.Module):
    def __init__(self, dim, resolution, num_heads, window, shift, mlp_ratio):
        super().__init__()
        if resolution <= window:  # one window covers the stage: no partition, no shift
            window, shift = resolution, 0
        self.resolution, self.window, self.shift = resolution, window, shift
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = shift_attention_mask(resolution, window, shift) if shift > 0 else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x):
        b, l, c = x.shape
        r = self.resolution
        h = self.norm1(x).view(b, r, r, c)
        if self.shift > 0:
            h = torch.roll(h, shifts=(-self.shift, -self.shift), dims=(1, 2))
        h = self.attn(window_partition(h, self.window), mask=self.attn_mask)
        h = window_reverse(h, self.window, r, r)
        if self.shift > 0:
            h = torch.roll(h, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + h.reshape(b, l, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, resolution, dim):
        super().__init__()
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim, eps=LN_EPS)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):
        b, _, c = x.shape
        x = x.view(b, self.resolution, self.resolution, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class BasicLayer(nn.Module):
    def __init__(self, dim, resolution, depth, num_heads, window, mlp_ratio, downsample):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinBlock(dim, resolution, num_heads, window, 0 if j % 2 == 0 else window // 2, mlp_ratio)
            for j in range(depth)])
        self.downsample = PatchMerging(resolution, dim) if downsample else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class SwinTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=96,
                 depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7, mlp_ratio=4.0):
        super().__init__()
        assert img_size % patch_size == 0
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        res, dim, n = img_size // patch_size, embed_dim, len(depths)
        layers = []
        for i in range(n):
            layers.append(BasicLayer(dim, res, depths[i], num_heads[i], window_size, mlp_ratio, i < n - 1))
            if i < n - 1:
                assert res % 2 == 0, f"stage {i} resolution {res} is odd"
                res, dim = res // 2, dim * 2
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x).mean(dim=1)  # avgpool over tokens

    def forward(self, x):
        return self.head(self.forward_features(x))


def official_buffers(model):
    """The buffers an official Swin state_dict also carries (relative_position_index as int64, attn_mask)."""
    out = {}
    for name, buf in model.named_buffers():
        if buf is not None:
            out[name] = buf
    return out


_DOWNSAMPLE = re.compile(r"^layers\.(\d+)\.downsample\.")


def official_to_timm(state_dict):
    """Official / FQ-ViT names -> current timm hub names (the merging moves to the next stage; head -> head.fc).
    Buffers (relative_position_index, attn_mask) are dropped, as timm does not store them."""
    out = {}
    for k, v in state_dict.items():
        if k.endswith("relative_position_index") or k.endswith("attn_mask"):
            continue
        k = _DOWNSAMPLE.sub(lambda m: f"layers.{int(m.group(1)) + 1}.downsample.", k)
        if k.startswith("head."):
            k = "head.fc." + k[len("head."):]
        out[k] = v
    return out


def timm_to_official(state_dict):
    """Inverse of official_to_timm."""
    out = {}
    for k, v in state_dict.items():
        if k.endswith("relative_position_index") or k.endswith("attn_mask"):
            continue
        k = _DOWNSAMPLE.sub(lambda m: f"layers.{int(m.group(1)) - 1}.downsample.", k)
        if k.startswith("head.fc."):
            k = "head." + k[len("head.fc."):]
        out[k] = v
    return out


def is_timm_layout(names):
    """timm hub files name the classifier head.fc and have no merging in stage 0."""
    names = set(names)
    has_merge = any(_DOWNSAMPLE.match(n) for n in names)
    return "head.fc.weight" in names or (has_merge and "layers.0.downsample.reduction.weight" not in names)


def check_merge_order():
    """timm's reshape/permute merge equals the official concat (so the converters permute no weight)."""
    b, h, w, c = 2, 6, 4, 3
    x = torch.randn(b, h, w, c)
    official = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
    timm = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
    return torch.equal(official, timm)

#!/usr/bin/python3
"""Writes the small committed converter inputs (tests/data/convert/) and their golden logits:

  deit_distilled_example.pth  a DeiT-distilled state dict wrapped as {"model": ...}, as the DeiT releases ship it
  vit_augreg_example.npz      a ViT in the original Google / AugReg .npz layout (Flax parameter paths)
  swin_official_example.pth   a two-stage Swin (56 px, window 7) in the official layout, buffers included, under
                              {"model": ...} as Microsoft's releases ship it
  golden.safetensors          `input` [2, 3, 32, 32] and the ViTs' logits from the PyTorch reference models
                              (scripts/reference): `logits_pth`, `logits_npz`; `input_swin` [2, 3, 56, 56] and
                              `logits_swin`

Both models have seeded random weights (make_model_goldens.randomize). The .npz is written from the reference model
through the inverse of the converter's mapping; so that the two mappings cannot be wrong in the same way, its
logits are also computed by an independent forward pass written directly in the Flax layout (einsums over
[D, heads, head_dim] kernels, HWIO patch kernel) and must agree with the reference model's.

  scripts/convert/make_examples.py [--out tests/data/convert]
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import make_model_goldens  # noqa: E402
from reference import safetensors_io, swin, vit  # noqa: E402

kImg, kPatch, kDim, kDepth = 32, 8, 24, 2
kFlaxAgreement = 1e-5  # float reassociation between einsums and the reference's matmuls


def flax_tree(model):
    """The reference ViT's weights as an original ViT .npz stores them."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    dim, heads = kDim, model.blocks[0].attn.num_heads
    w = {"embedding/kernel": sd["patch_embed.proj.weight"].transpose(2, 3, 1, 0),
         "embedding/bias": sd["patch_embed.proj.bias"], "cls": sd["cls_token"],
         "Transformer/posembed_input/pos_embedding": sd["pos_embed"],
         "Transformer/encoder_norm/scale": sd["norm.weight"], "Transformer/encoder_norm/bias": sd["norm.bias"],
         "head/kernel": sd["head.weight"].T, "head/bias": sd["head.bias"]}
    for i in range(len(model.blocks)):
        b, t = f"Transformer/encoderblock_{i}/", f"blocks.{i}."
        mha = b + "MultiHeadDotProductAttention_1/"
        qkv_w = sd[t + "attn.qkv.weight"].reshape(3, heads, dim // heads, dim)  # [3, H, hd, D]
        qkv_b = sd[t + "attn.qkv.bias"].reshape(3, heads, dim // heads)
        for j, n in enumerate(("query", "key", "value")):
            w[f"{mha}{n}/kernel"] = qkv_w[j].transpose(2, 0, 1)  # [D, H, hd]
            w[f"{mha}{n}/bias"] = qkv_b[j]
        w[mha + "out/kernel"] = sd[t + "attn.proj.weight"].T.reshape(heads, dim // heads, dim)
        w[mha + "out/bias"] = sd[t + "attn.proj.bias"]
        w[b + "LayerNorm_0/scale"], w[b + "LayerNorm_0/bias"] = sd[t + "norm1.weight"], sd[t + "norm1.bias"]
        w[b + "LayerNorm_2/scale"], w[b + "LayerNorm_2/bias"] = sd[t + "norm2.weight"], sd[t + "norm2.bias"]
        for r in range(2):
            w[b + f"MlpBlock_3/Dense_{r}/kernel"] = sd[t + f"mlp.fc{r + 1}.weight"].T
            w[b + f"MlpBlock_3/Dense_{r}/bias"] = sd[t + f"mlp.fc{r + 1}.bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}


def flax_forward(w, images):
    """google-research/vision_transformer's ViT forward, written over the .npz arrays as they are."""
    t = {k: torch.from_numpy(v) for k, v in w.items()}
    x = images.permute(0, 2, 3, 1)  # NHWC, as the Flax model sees images
    b, h, wd, c = x.shape
    p = t["embedding/kernel"].shape[0]
    patches = x.reshape(b, h // p, p, wd // p, p, c).permute(0, 1, 3, 2, 4, 5)  # b, gy, gx, py, px, c
    x = torch.einsum("byxijc,ijcd->byxd", patches, t["embedding/kernel"]) + t["embedding/bias"]
    x = x.reshape(b, -1, x.shape[-1])
    x = torch.cat([t["cls"].expand(b, -1, -1), x], 1) + t["Transformer/posembed_input/pos_embedding"]

    def ln(v, name):
        return F.layer_norm(v, v.shape[-1:], t[name + "/scale"], t[name + "/bias"], eps=1e-6)

    i = 0
    while f"Transformer/encoderblock_{i}/LayerNorm_0/scale" in t:
        blk = f"Transformer/encoderblock_{i}/"
        mha = blk + "MultiHeadDotProductAttention_1/"
        y = ln(x, blk + "LayerNorm_0")
        q, k, v = (torch.einsum("bnd,dhk->bnhk", y, t[f"{mha}{n}/kernel"]) + t[f"{mha}{n}/bias"]
                   for n in ("query", "key", "value"))
        att = torch.einsum("bqhk,bmhk->bhqm", q, k) / q.shape[-1] ** 0.5
        o = torch.einsum("bhqm,bmhk->bqhk", att.softmax(-1), v)
        x = x + torch.einsum("bqhk,hkd->bqd", o, t[mha + "out/kernel"]) + t[mha + "out/bias"]
        y = ln(x, blk + "LayerNorm_2")
        y = F.gelu(y @ t[blk + "MlpBlock_3/Dense_0/kernel"] + t[blk + "MlpBlock_3/Dense_0/bias"])
        x = x + y @ t[blk + "MlpBlock_3/Dense_1/kernel"] + t[blk + "MlpBlock_3/Dense_1/bias"]
        i += 1
    x = ln(x, "Transformer/encoder_norm")
    return x[:, 0] @ t["head/kernel"] + t["head/bias"]


def seeded_model(seed, heads, classes, distilled):
    model = vit.VisionTransformer(img_size=kImg, patch_size=kPatch, num_classes=classes, embed_dim=kDim,
                                  depth=kDepth, num_heads=heads, distilled=distilled).eval()
    make_model_goldens.randomize(model, seed)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "data", "convert"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    images = torch.randn(2, 3, kImg, kImg, generator=torch.Generator().manual_seed(77))

    deit = seeded_model(seed=21, heads=3, classes=10, distilled=True)
    torch.save({"model": deit.state_dict(), "epoch": 300}, os.path.join(args.out, "deit_distilled_example.pth"))
    augreg = seeded_model(seed=22, heads=2, classes=7, distilled=False)
    tree = flax_tree(augreg)
    np.savez(os.path.join(args.out, "vit_augreg_example.npz"), **tree)

    swin_model = swin.SwinTransformer(img_size=56, patch_size=4, num_classes=5, embed_dim=16, depths=(2, 2),
                                      num_heads=(1, 2), window_size=7).eval()
    make_model_goldens.randomize(swin_model, 23)
    swin_state = dict(swin_model.state_dict())
    swin_state.update(swin.official_buffers(swin_model))
    torch.save({"model": swin_state}, os.path.join(args.out, "swin_official_example.pth"))
    swin_images = torch.randn(2, 3, 56, 56, generator=torch.Generator().manual_seed(78))

    with torch.no_grad():
        logits_pth, logits_npz, logits_swin = deit(images), augreg(images), swin_model(swin_images)
        flax = flax_forward(tree, images)
    diff = (flax - logits_npz).abs().max().item()
    assert diff < kFlaxAgreement, f"Flax-layout forward differs from the reference model by {diff}"
    safetensors_io.write(os.path.join(args.out, "golden.safetensors"),
                         {"input": images.numpy(), "logits_pth": logits_pth.numpy(), "logits_npz": logits_npz.numpy(),
                          "input_swin": swin_images.numpy(), "logits_swin": logits_swin.numpy()},
                         metadata={"generator": "scripts/convert/make_examples.py", "torch": torch.__version__})
    print(f"wrote {args.out}: flax forward agrees to {diff:.2g}; argmax pth {logits_pth.argmax(1).tolist()}, "
          f"npz {logits_npz.argmax(1).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Regenerates tests/data/images/: small synthetic JPEG/PNG files and the outputs Pillow (and the torchvision eval
transform, re-implemented below in numpy) gives for them. The C++ tests in tests/io/ assert bit-exact equality with
these. Run with the system Python (Pillow 9.4.0 + numpy, linked to the same libjpeg-turbo as the project):

    /usr/bin/python3 tests/io/make_image_goldens.py

Everything is deterministic (fixed seeds; Pillow's JPEG encoder is deterministic for fixed settings), so re-running
it rewrites identical files unless Pillow or libjpeg-turbo changed.

goldens.safetensors holds U8 tensors
  decode/<file>                [H, W, 3]  Image.open(file).convert("RGB")
  resize/source_rgb            [H, W, 3]  the resize input (RGB)
  resize/source_gray           [H, W, 1]  the resize input (L)
  resize/<filter>/<W>x<H>      [H, W, 3]  source_rgb.resize((W, H), filter)
  resize_gray/<filter>/<W>x<H> [H, W, 1]  source_gray.resize((W, H), filter)
and F32 tensors
  preprocess/<case>            [3, S, S]  the torchvision eval transform of a file (see PREPROCESS_CASES)
with the preprocessing parameters of each case in __metadata__["preprocess"] (JSON).
"""
import io
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "images")

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def pattern(w, h, seed, channels=3):
    """Smooth gradients + a sharp-edged block + noise: exercises rounding, overshoot and both clip8 ends."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        p = 128 + 100 * np.sin(x / (2.0 + c) + y / (3.0 + c)) + 40 * np.cos(x * y / (17.0 + 5 * c))
        p += rng.normal(0, 12, size=(h, w))
        planes.append(p)
    a = np.stack(planes, axis=-1)
    # Hard black/white block: bicubic ringing at its edges goes below 0 and above 255.
    a[h // 4: h // 2, w // 3: w // 2, :] = 255
    a[h // 4: h // 2, w // 2: (2 * w) // 3, :] = 0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# A minimal PNG writer, for the layouts Pillow cannot save (16-bit RGB, 2-bit gray, Adam7 interlace, gray tRNS).

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(samples, bit_depth):
    """samples: 1-D array of integer samples of one row."""
    if bit_depth == 16:
        return samples.astype(">u2").tobytes()
    if bit_depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    out = bytearray()
    for i in range(0, len(samples), per_byte):
        b = 0
        for j in range(per_byte):
            v = int(samples[i + j]) if i + j < len(samples) else 0
            b |= v << (8 - bit_depth * (j + 1))
        out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, bit_depth, color_type, palette=None, trns=None, interlace=False):
    """samples: [H, W, C] integer array in the file's sample format."""
    h, w, c = samples.shape
    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx, :]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for row in sub:
                raw += b"\x00" + pack_row(row.reshape(-1), bit_depth)
    else:
        for row in samples:
            raw += b"\x00" + pack_row(row.reshape(-1), bit_depth)
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += png_chunk(b"tRNS", trns)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------------------------

def make_files():
    files = []

    def save(name, im, **kw):
        im.save(os.path.join(OUT, name), **kw)
        files.append(name)

    # JPEG: 4:2:0 baseline (Pillow's default), 4:4:4 progressive, 4:2:2, grayscale, CMYK (Adobe, inverted).
    save("rgb420_37x23.jpg", Image.fromarray(pattern(37, 23, 1)), quality=90)
    save("rgb444_progressive_31x19.jpg", Image.fromarray(pattern(31, 19, 2)), quality=85, subsampling=0,
         progressive=True)
    save("rgb422_45x29.jpg", Image.fromarray(pattern(45, 29, 3)), quality=75, subsampling=1)
    save("gray_29x17.jpg", Image.fromarray(pattern(29, 17, 4, 1)[..., 0], "L"), quality=92)
    save("cmyk_17x23.jpg", Image.fromarray(pattern(17, 23, 5, 4), "CMYK"), quality=90)

    # PNG written by Pillow: RGB, RGBA, palette (+tRNS), gray 8, gray 1-bit, gray 16, LA.
    save("rgb8_13x11.png", Image.fromarray(pattern(13, 11, 6)))
    save("rgba8_19x13.png", Image.fromarray(pattern(19, 13, 7, 4), "RGBA"))
    pal = Image.fromarray(pattern(23, 11, 8)).quantize(colors=37, method=Image.MEDIANCUT)
    save("palette8_trns_23x11.png", pal, transparency=bytes([0, 128, 255] + [255] * 10))
    save("gray8_17x15.png", Image.fromarray(pattern(17, 15, 9, 1)[..., 0], "L"))
    save("gray1_9x5.png", Image.fromarray(pattern(9, 5, 10, 1)[..., 0] > 127).convert("1"))
    g16 = (pattern(13, 9, 11, 1)[..., 0].astype(np.uint16) * 3)  # 0..765: Pillow's "I" -> RGB clips at 255
    g16[0, :4] = [0, 254, 255, 256]
    g16[1, :2] = [40000, 65535]
    save("gray16_13x9.png", Image.fromarray(g16.astype(np.uint16), "I;16"))
    save("la8_12x10.png", Image.fromarray(pattern(12, 10, 12, 2), "LA"))

    # PNG layouts Pillow does not write.
    write_png(os.path.join(OUT, "rgb16_11x7.png"), pattern(11, 7, 13).astype(np.uint16) * 257 + np.arange(11)[None, :, None],
              16, 2)
    files.append("rgb16_11x7.png")
    rgba16 = pattern(9, 8, 14, 4).astype(np.uint16) * 256 + pattern(9, 8, 15, 4)
    write_png(os.path.join(OUT, "rgba16_9x8.png"), rgba16, 16, 6)
    files.append("rgba16_9x8.png")
    la16 = pattern(7, 6, 16, 2).astype(np.uint16) * 256 + 200
    write_png(os.path.join(OUT, "la16_7x6.png"), la16, 16, 4)
    files.append("la16_7x6.png")
    write_png(os.path.join(OUT, "gray2_11x7.png"), (pattern(11, 7, 17, 1) >> 6), 2, 0)
    files.append("gray2_11x7.png")
    write_png(os.path.join(OUT, "gray4_trns_10x6.png"), (pattern(10, 6, 18, 1) >> 4), 4, 0, trns=struct.pack(">H", 5))
    files.append("gray4_trns_10x6.png")
    palette = pattern(16, 1, 19)[0]
    write_png(os.path.join(OUT, "palette4_15x9.png"), (pattern(15, 9, 20, 1) >> 4), 4, 3, palette=palette)
    files.append("palette4_15x9.png")
    write_png(os.path.join(OUT, "rgb8_adam7_14x10.png"), pattern(14, 10, 21), 8, 2, interlace=True)
    files.append("rgb8_adam7_14x10.png")
    write_png(os.path.join(OUT, "rgb8_trns_8x5.png"), pattern(8, 5, 22), 8, 2, trns=struct.pack(">HHH", 1, 2, 3))
    files.append("rgb8_trns_8x5.png")
    return files


RESIZE_SIZES = [
    (49, 34),   # up ~1.09 on both axes, like the 227 -> 248 val images
    (90, 62),   # exact 2x up
    (13, 9),    # down ~3.4
    (4, 3),     # down ~11: wide kernels
    (45, 17),   # vertical pass only
    (20, 31),   # horizontal pass only
    (64, 20),   # up in x, down in y
    (1, 1),
    (45, 31),   # same size: a copy
]
RESIZE_GRAY_SIZES = [(31, 12), (9, 40)]

# (name, file, input_size, crop_pct, interpolation, mean, std)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESS_CASES = [
    ("rgb420_s16_c0875_bicubic", "rgb420_37x23.jpg", 16, 0.875, "bicubic", IMAGENET_MEAN, IMAGENET_STD),
    # crop offsets x.5 round half to even: 5.5 -> 6, 3.5 -> 4, 8.5 -> 8, 2.5 -> 2
    ("rgb420_s11_c05_bicubic", "rgb420_37x23.jpg", 11, 0.5, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ("gray_s12_c09_bilinear", "gray_29x17.jpg", 12, 0.9, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
    ("cmyk_s10_c075_bicubic", "cmyk_17x23.jpg", 10, 0.75, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ("rgb422_s17_c077_bicubic", "rgb422_45x29.jpg", 17, 0.77, "bicubic", IMAGENET_MEAN, IMAGENET_STD),
    ("palette_s9_c1_bilinear", "palette8_trns_23x11.png", 9, 1.0, "bilinear", IMAGENET_MEAN, IMAGENET_STD),
    # crop larger than the resized image: torchvision pads with zeros before cropping
    ("gray_s16_c125_bicubic_pad", "gray_29x17.jpg", 16, 1.25, "bicubic", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb444_s24_c16_bicubic_pad", "rgb444_progressive_31x19.jpg", 24, 1.6, "bicubic", IMAGENET_MEAN, IMAGENET_STD),
]


def eval_transform(im, input_size, crop_pct, filt, mean, std):
    """timm/FQ-ViT eval transform with torchvision 0.14 semantics (Resize(shorter), CenterCrop, ToTensor, Normalize),
    written out in numpy; checked bit-exact against the reference golden inputs by tests/io (via the C++ port)."""
    im = im.convert("RGB")
    size = int(math.floor(input_size / crop_pct))
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        im = im.resize((new_w, new_h), filt)
    # CenterCrop: pad with zeros when the crop is larger, then int(round(.. / 2.0)) (Python round: half to even).
    iw, ih = im.size
    crop = input_size
    if crop > iw or crop > ih:
        l = (crop - iw) // 2 if crop > iw else 0
        t = (crop - ih) // 2 if crop > ih else 0
        r = (crop - iw + 1) // 2 if crop > iw else 0
        b = (crop - ih + 1) // 2 if crop > ih else 0
        padded = Image.new("RGB", (iw + l + r, ih + t + b), (0, 0, 0))
        padded.paste(im, (l, t))
        im = padded
        iw, ih = im.size
    top = int(round((ih - crop) / 2.0))
    left = int(round((iw - crop) / 2.0))
    im = im.crop((left, top, left + crop, top + crop))
    a = np.asarray(im).astype(np.float32).transpose(2, 0, 1)
    a = a / np.float32(255)  # torch: img.to(float32).div(255), a true division
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    return np.ascontiguousarray((a - m) / s), dict(resized=[new_w, new_h], crop_left=left, crop_top=top)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, arr in tensors:
        dtype = {np.dtype(np.uint8): "U8", np.dtype(np.float32): "F32"}[arr.dtype]
        b = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    if PIL.__version__ != "9.4.0":
        print(f"warning: Pillow {PIL.__version__}, the reference used 9.4.0", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    files = make_files()
    tensors = []
    modes = {}
    for name in files:
        im = Image.open(os.path.join(OUT, name))
        modes[name] = im.mode
        tensors.append(("decode/" + name, np.asarray(im.convert("RGB"))))

    src = pattern(45, 31, 100)
    src[0, 0] = [0, 255, 0]
    tensors.append(("resize/source_rgb", src))
    for fname, f in FILTERS.items():
        for w, h in RESIZE_SIZES:
            tensors.append((f"resize/{fname}/{w}x{h}", np.asarray(Image.fromarray(src).resize((w, h), f))))
    gsrc = pattern(23, 17, 101, 1)
    tensors.append(("resize/source_gray", gsrc))
    for fname, f in FILTERS.items():
        for w, h in RESIZE_GRAY_SIZES:
            out = np.asarray(Image.fromarray(gsrc[..., 0], "L").resize((w, h), f))[..., None]
            tensors.append((f"resize_gray/{fname}/{w}x{h}", out))

    cases = {}
    for name, fname, size, crop_pct, interp, mean, std in PREPROCESS_CASES:
        out, geo = eval_transform(Image.open(os.path.join(OUT, fname)), size, crop_pct, FILTERS[interp], mean, std)
        tensors.append(("preprocess/" + name, out))
        cases[name] = dict(file=fname, input_size=size, crop_pct=crop_pct, interpolation=interp, mean=mean,
                           std=std, **geo)
        print(name, geo)

    meta = {"generator": "tests/io/make_image_goldens.py", "pillow": PIL.__version__,
            "preprocess": json.dumps(cases), "modes": json.dumps(modes)}
    write_safetensors(os.path.join(OUT, "goldens.safetensors"), tensors, meta)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(files)} images, {len(tensors)} tensors, {total} bytes in {OUT}")
    print(json.dumps(modes))


if __name__ == "__main__":
    main()

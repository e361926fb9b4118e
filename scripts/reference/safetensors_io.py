"""A tiny safetensors reader/writer (struct + json + numpy), so the scripts need no extra package.

Format: 8-byte little-endian header length N, N bytes of JSON
{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data area.
BF16 has no numpy dtype: it is read as float32 and written from float32 by truncating to the top 16 bits
after round-to-nearest-even.
"""
import json
import os
import struct

import numpy as np

_NUMPY_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def _bf16_to_f32(raw):
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(x):
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)  # round to nearest, ties to even (no NaNs here)
    return (rounded >> 16).astype(np.uint16)


def read(path):
    """Returns (tensors, metadata, dtypes): name -> numpy array (BF16 as float32), the __metadata__ dict, and
    name -> stored dtype string."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", {}) or {}
    tensors, dtypes = {}, {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype, shape = info["dtype"], info["shape"]
        raw = data[begin:end]
        if dtype == "BF16":
            arr = _bf16_to_f32(np.frombuffer(raw, dtype="<u2"))
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<")).copy()
        tensors[name] = arr.reshape(shape)
        dtypes[name] = dtype
    return tensors, metadata, dtypes


def read_metadata(path):
    """The __metadata__ dict alone (reads only the header)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {}) or {}


def write(path, tensors, metadata=None, dtypes=None):
    """Writes name -> array; dtypes (name -> "F32"/"F16"/"BF16"/...) chooses the storage, default from the
    array's dtype. Written atomically (temporary name, then rename)."""
    dtypes = dtypes or {}
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dtype = dtypes.get(name)
        if dtype is None:
            dtype = next(k for k, v in _NUMPY_DTYPES.items() if np.dtype(v) == arr.dtype)
        if dtype == "BF16":
            raw = _f32_to_bf16(arr).astype("<u2").tobytes()
        else:
            raw = np.ascontiguousarray(arr, dtype=np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # data area 8-byte aligned, as the reference writer does
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def stored_value(x, dtype):
    """The float32 value a tensor has after a round trip through `dtype` storage."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == "F16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        return _bf16_to_f32(_f32_to_bf16(x)).reshape(x.shape)
    return x

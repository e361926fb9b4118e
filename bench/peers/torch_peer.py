#!/usr/bin/python3
"""PyTorch peer of bench/peers.sh: images/s of the reference model (scripts/reference) in FP32 and in
torch.ao.quantization.quantize_dynamic int8 (every nn.Linear), on random input, one JSON line per figure:

  {"peer": "torch", "mode": "fp32"|"int8-dynamic", "model": DIR, "batch": 8, "images_per_second": ...,
   "latency_ms": ..., "setting": "..."}

The BLAS kernel set and OpenBLAS's threads are the process's environment (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS:
the caller starts one process per setting); --threads is torch's intra-op threads. Each int8 figure comes from a
freshly quantized copy of the model: torch 1.13 keeps the kernel it picked at a quantized model's first call, so a
model first run at another batch size runs up to 2x faster or slower.
"""
import argparse
import copy
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from reference import checkpoint  # noqa: E402

kWarmupPasses = 2
kWarmupSeconds = 0.5
kMinPasses = 5


def median_latency_ms(model, x, seconds):
    start = time.perf_counter()
    passes = 0
    while passes < kWarmupPasses or time.perf_counter() - start < kWarmupSeconds:
        model(x)
        passes += 1
    ms, start = [], time.perf_counter()
    while len(ms) < kMinPasses or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        model(x)
        ms.append(1000.0 * (time.perf_counter() - t0))
    return statistics.median(ms), len(ms)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--modes", nargs="+", default=["fp32", "int8-dynamic"], choices=["fp32", "int8-dynamic"])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per figure")
    parser.add_argument("--quantized-engine", default=None,
                        help="torch.backends.quantized.engine for int8 (default: torch's own choice)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quantized_engine:
        torch.backends.quantized.engine = args.quantized_engine
    model, config = checkpoint.load_checkpoint(args.model)
    size = config.get("model_args", {}).get("img_size") or config.get("pretrained_cfg", {}).get(
        "input_size", [3, 224, 224])[1]
    setting = (f"torch {torch.__version__}, torch threads {args.threads}, OPENBLAS_CORETYPE="
               f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, OPENBLAS_NUM_THREADS="
               f"{os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    with torch.inference_mode():
        for mode in args.modes:
            for batch in args.batch:
                x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
                if mode == "fp32":
                    runner, extra = model, ""
                else:
                    runner = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear},
                                                                    dtype=torch.qint8)
                    extra = f", quantized engine {torch.backends.quantized.engine}"
                ms, passes = median_latency_ms(runner, x, args.seconds)
                print(json.dumps({"peer": "torch", "mode": mode, "model": args.model, "batch": batch,
                                  "images_per_second": 1000.0 * batch / ms, "latency_ms": ms, "passes": passes,
                                  "setting": setting + extra}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

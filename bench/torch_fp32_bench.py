#!/usr/bin/python3
"""PyTorch FP32 forward throughput of a checkpoint directory (scripts/reference ViT/DeiT or Swin), printed as JSON
on stdout for bench/fp32_throughput.cc to show beside fqvit's figures:

  {"model": DIR, "threads": 2, "torch": "1.13.0a0", "results": [{"batch": 1, "images_per_second": ...}, ...]}

Per batch size: warm-up, then timed forwards of one batch until --seconds have passed (at least 5); the median
rate is reported. Inputs are random normal (throughput does not depend on values).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reference import checkpoint  # noqa: E402

kWarmup = 3
kMinReps = 5


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per batch size")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, config = checkpoint.load_checkpoint(args.model)
    size = config.get("model_args", {}).get("img_size") or config.get("pretrained_cfg", {}).get(
        "input_size", [3, 224, 224])[1]
    results = []
    with torch.inference_mode():
        for batch in args.batch:
            x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
            for _ in range(kWarmup):
                model(x)
            rates, start = [], time.perf_counter()
            while len(rates) < kMinReps or time.perf_counter() - start < args.seconds:
                t0 = time.perf_counter()
                model(x)
                rates.append(batch / (time.perf_counter() - t0))
            results.append({"batch": batch, "images_per_second": statistics.median(rates), "reps": len(rates)})
    print(json.dumps({"model": args.model, "threads": args.threads, "torch": torch.__version__,
                      "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

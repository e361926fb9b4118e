#!/usr/bin/python3
"""Collects and prints the figures of bench/peers.sh.

  summary.py record --results R.jsonl --name vit_tiny --source fqvit|torch|onnxruntime [--mode M] < JSON
      appends the JSON object(s) read on stdin (one object, or one per line) to R.jsonl, tagged with name/source
  summary.py print --results R.jsonl
      prints images/s per model and batch for every engine and peer, the ratios ours / peer, the settings each peer
      ran with (its best per figure), the ONNX Runtime int8 check and the memory figures
"""
import argparse
import collections
import json
import sys

# Columns: (source, mode) -> heading. A peer's figure is its best over the settings tried.
kColumns = [
    (("fqvit", "fp32"), "fqvit fp32"),
    (("fqvit", "int"), "fqvit int"),
    (("torch", "fp32"), "torch fp32"),
    (("torch", "int8-dynamic"), "torch int8"),
    (("onnxruntime", "fp32"), "ORT fp32"),
    (("onnxruntime", "int8"), "ORT int8"),
]
kOurs = [("fqvit", "fp32"), ("fqvit", "int")]
kPeers = [key for key, _ in kColumns if key[0] != "fqvit"]


def record(args):
    text = sys.stdin.read().strip()
    try:
        objects = [json.loads(text)]
    except json.JSONDecodeError:
        objects = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    with open(args.results, "a") as out:
        for obj in objects:
            obj["name"], obj["source"] = args.name, args.source
            if args.mode:
                obj["mode"] = args.mode
            elif "engine" in obj and "mode" not in obj:
                obj["mode"] = obj["engine"]
            out.write(json.dumps(obj) + "\n")
    return 0


def fmt(x):
    return "-" if x is None else f"{x:.1f}"


def print_summary(args):
    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    best = {}  # (name, batch, source, mode) -> row
    for r in rows:
        if "images_per_second" not in r:
            continue
        key = (r["name"], r["batch"], r["source"], r["mode"])
        if key not in best or r["images_per_second"] > best[key]["images_per_second"]:
            best[key] = r
    names = list(dict.fromkeys(r["name"] for r in rows if "images_per_second" in r))
    batches = sorted({r["batch"] for r in rows if "images_per_second" in r})

    print("images/s (median pass, model alone, synthetic input; a peer's figure is its best setting)")
    head = f"{'model':<10} {'batch':>5} " + " ".join(f"{h:>11}" for _, h in kColumns)
    print(head)
    for name in names:
        for batch in batches:
            cells = []
            for key, _ in kColumns:
                r = best.get((name, batch) + key)
                cells.append(f"{fmt(r['images_per_second'] if r else None):>11}")
            print(f"{name:<10} {batch:>5} " + " ".join(cells))

    print("\nratios ours / peer (same run; PT = PyTorch, ORT = ONNX Runtime)")
    short = {"fp32": "fp32", "int": "int", "int8-dynamic": "int8", "int8": "int8", "torch": "PT", "onnxruntime": "ORT"}
    ratio_heads = [f"{short[o[1]]}/{short[p[0]]}-{short[p[1]]}" for o in kOurs for p in kPeers]
    print(f"{'model':<10} {'batch':>5} " + " ".join(f"{h:>13}" for h in ratio_heads))
    for name in names:
        for batch in batches:
            cells = []
            for o in kOurs:
                for p in kPeers:
                    a, b = best.get((name, batch) + o), best.get((name, batch) + p)
                    ratio = f"{a['images_per_second'] / b['images_per_second']:.2f}x" if a and b else "-"
                    cells.append(f"{ratio:>13}")
            print(f"{name:<10} {batch:>5} " + " ".join(cells))

    print("\nsettings behind each best peer figure")
    for (name, batch, source, mode), r in sorted(best.items()):
        if source != "fqvit":
            print(f"  {name} batch {batch} {source} {mode}: {r.get('setting', '?')}")
    for (name, batch, source, mode), r in sorted(best.items()):
        if source == "fqvit":
            print(f"  {name} batch {batch} fqvit {mode}: isa {r.get('isa')}, {r.get('threads')} threads, "
                  f"{r.get('thread_wait_policy')}")

    checks = [r for r in rows if r.get("check") == "top1"]
    for c in checks:
        print(f"\nONNX Runtime int8 vs FP32 on {c['images']} real images ({c['name']}): same top-1 class on "
              f"{c['agree']}/{c['images']} ({100 * c['agree'] / c['images']:.1f}%); top-1 FP32 {c['top1_a']:.1f}%, "
              f"int8 {c['top1_b']:.1f}%")

    memory = [r for r in rows if r.get("kind") == "memory"]
    if memory:
        print("\nmemory (MB = 10^6 bytes): model file, resident after load (fqvit-bench), peak RSS of fqvit-eval at "
              "batch 8")
        by_name = collections.defaultdict(dict)
        for m in memory:
            by_name[m["name"]][m["mode"]] = m
        for name, modes in by_name.items():
            fp32 = modes.get("fp32")
            for mode, m in modes.items():
                line = (f"  {name} {mode}: file {m['file_bytes'] / 1e6:.1f}, resident {m['resident_bytes'] / 1e6:.1f}"
                        f", peak RSS {m['peak_rss_bytes'] / 1e6:.1f}" if m.get("peak_rss_bytes") else
                        f"  {name} {mode}: file {m['file_bytes'] / 1e6:.1f}, resident {m['resident_bytes'] / 1e6:.1f}")
                if fp32 and mode != "fp32" and fp32["file_bytes"] and fp32["resident_bytes"]:
                    line += (f" ({100 * m['file_bytes'] / fp32['file_bytes']:.0f}% / "
                             f"{100 * m['resident_bytes'] / fp32['resident_bytes']:.0f}% of FP32)")
                print(line)
    notes = [r for r in rows if r.get("kind") == "note"]
    for n in notes:
        print(f"note: {n['text']}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--results", required=True)
    rec.add_argument("--name", required=True)
    rec.add_argument("--source", required=True)
    rec.add_argument("--mode")
    show = sub.add_parser("print")
    show.add_argument("--results", required=True)
    args = parser.parse_args()
    return record(args) if args.command == "record" else print_summary(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Runs a sweep config (configs/sweeps/*.json): every row (a quantization config, optionally with overrides) on
every model, fqvit-calibrate then fqvit-eval, and prints one markdown table of top-1 (top-5) and images/s.

Paths in the sweep file are relative to the repository root. Models whose checkpoint or data are missing are
skipped, saying so. Every calibrated file, log and eval JSON goes to --work (outside the repository); a run whose
eval JSON already exists for the same model, merged config and settings is reused, so an interrupted sweep resumes.

Nothing here reads accuracy back into a choice: the rows are fixed in the sweep file, every parameter inside a
row is fitted by fqvit-calibrate on the calibration images alone, and validation accuracy is only printed.

  python3 scripts/run_sweep.py --sweep configs/sweeps/plus.json --build build --work /tmp/sweep [--out table.md]
"""
import argparse
import copy
import hashlib
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def repo_path(p):
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(REPO, p))


def run(cmd, log):
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"run_sweep: {' '.join(cmd)} failed with status {r.returncode}; see {log}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", required=True)
    ap.add_argument("--build", default="build")
    ap.add_argument("--work", required=True, help="directory for calibrated files, logs and eval JSON")
    ap.add_argument("--out", help="also write the table (markdown) here")
    ap.add_argument("--models", help="comma-separated model names to run (default all)")
    ap.add_argument("--rows", help="comma-separated row names to run (default all)")
    ap.add_argument("--no-run", action="store_true", help="only tabulate the runs already in --work")
    args = ap.parse_args()

    sweep = json.load(open(repo_path(args.sweep)))
    settings = sweep.get("settings", {})
    build = repo_path(args.build)
    os.makedirs(args.work, exist_ok=True)
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    os.environ.update(env)
    models = [m for m in sweep["models"] if not args.models or m["name"] in args.models.split(",")]
    rows = [r for r in sweep["rows"] if not args.rows or r["name"] in args.rows.split(",")]

    results = {}  # (model, row) -> eval json
    present = []
    for m in models:
        missing = [p for p in (m["checkpoint"], m["calib"], m["val"]) if not os.path.exists(repo_path(p))]
        if missing:
            print(f"skipped {m['name']}: {', '.join(missing)} not found", file=sys.stderr)
        else:
            present.append(m)
    # Rows outer: an interrupted sweep has whole rows.
    for r in rows:
        for m in present:
            numerics = r.get("numerics", settings.get("numerics", "fast"))
            eval_args = ["--data", repo_path(m["val"]), "--batch-size", str(settings.get("eval_batch", 50)),
                         "--threads", str(settings.get("threads", 2))]
            if m.get("class_list"):
                eval_args += ["--class-list", repo_path(m["class_list"])]
            if m.get("labels"):
                eval_args += ["--labels", repo_path(m["labels"])]
            if r.get("fp32"):
                config, key_src = None, {"fp32": True}
            else:
                config = merge(json.load(open(repo_path(r["config"]))), r.get("override", {}))
                config.pop("description", None)
                key_src = config
            key = hashlib.sha1(json.dumps([m, key_src, numerics, settings], sort_keys=True).encode()).hexdigest()[:12]
            tag = f"{m['name'].replace(' ', '_')}.{key}"
            out_json = os.path.join(args.work, tag + ".eval.json")
            if not os.path.exists(out_json) and args.no_run:
                continue
            if not os.path.exists(out_json):
                t0 = time.time()
                if config is None:
                    run([f"{build}/fqvit-eval", "--model", repo_path(m["checkpoint"]), "--numerics", numerics,
                         "--json", out_json] + eval_args, os.path.join(args.work, tag + ".eval.log"))
                else:
                    cfg_path = os.path.join(args.work, tag + ".config.json")
                    json.dump(config, open(cfg_path, "w"), indent=1)
                    qfile = os.path.join(args.work, tag + ".safetensors")
                    cal = [f"{build}/fqvit-calibrate", "--model", repo_path(m["checkpoint"]), "--calib",
                           repo_path(m["calib"]), "--config", cfg_path, "--numerics", numerics, "--out", qfile,
                           "--images", str(settings.get("calib_images", 1000)),
                           "--batch", str(settings.get("calib_batch", 100)),
                           "--threads", str(settings.get("threads", 2))]
                    if m.get("class_list"):
                        cal += ["--class-list", repo_path(m["class_list"])]
                    run(cal, os.path.join(args.work, tag + ".calibrate.log"))
                    run([f"{build}/fqvit-eval", "--model", qfile, "--engine", "fake", "--json", out_json] + eval_args,
                        os.path.join(args.work, tag + ".eval.log"))
                    os.remove(qfile)  # large; the config and logs stay
                print(f"{m['name']:<20} {r['name']:<40} done in {time.time() - t0:.0f} s", file=sys.stderr)
            results[(m["name"], r["name"])] = json.load(open(out_json))

    names = [m["name"] for m in models if any((m["name"], r["name"]) in results for r in rows)]
    load = open("/proc/loadavg").read().split()[:3]
    lines = [f"Top-1 % (top-5 %) and images/s (fake quant: float emulation; batch {settings.get('eval_batch', 50)}, "
             f"{settings.get('threads', 2)} threads, load average at the end {' '.join(load)}: provisional)",
             "", "| configuration | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for r in rows:
        cells = []
        for n in names:
            e = results.get((n, r["name"]))
            cells.append("-" if e is None else f"{e['top1']:.2f} ({e['top5']:.2f}), {e['images_per_second']:.1f}/s")
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            f.write(table)
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()

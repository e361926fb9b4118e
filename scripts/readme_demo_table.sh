#!/usr/bin/env bash
# Runs the demo (scripts/demo.sh: FP32, FQ-ViT 8/8/4 calibration, fake quant and the integer engine on the embedded
# micro models) with the current code and prints the README's demo row from its JSON summaries, so the README's
# figures are this run's.
#   scripts/readme_demo_table.sh            (runs the demo, then prints the row)
#   scripts/readme_demo_table.sh --no-run   (prints the row of the last demo run in build/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--no-run" ] || bash scripts/demo.sh >&2
/usr/bin/python3 - <<'PY'
import json, os
out = "build/demo"
def top1(name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)["top1"]
cells = []
for model, label in (("vit_micro", "micro ViT"), ("swin_micro", "micro Swin")):
    cells.append("%s %.1f / %.1f / %.1f" % (label, top1(model + ".fp32.json"), top1(model + ".w8a8attn4.json"),
                                            top1(model + ".w8a8attn4.int.json")))
with open(os.path.join(out, "vit_micro.fp32.json")) as f:
    images = json.load(f)["images"]
print("| demo (Fashion-MNIST val, %d images): FP32 / FQ-ViT 8/8/4 fake-quant / integer engine "
      "(`scripts/readme_demo_table.sh` prints this row) | %s |" % (images, ", ".join(cells)))
PY

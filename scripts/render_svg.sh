#!/usr/bin/env bash
# Renders an SVG of fqvit-report / fqvit-inspect to PNG with headless Chromium (Debian's `chromium`), at the SVG's
# own size, to look at it or attach it somewhere SVG is not shown. Usage: scripts/render_svg.sh IN.svg [OUT.png]
set -euo pipefail
in="$1"
out="${2:-${in%.svg}.png}"
size=$(head -c 4096 "$in" | grep -o '<svg[^>]*>' | head -1)
width=$(sed -n 's/.* width="\([0-9.]*\)".*/\1/p' <<<"$size")
height=$(sed -n 's/.* height="\([0-9.]*\)".*/\1/p' <<<"$size")
[ -n "$width" ] && [ -n "$height" ] || { echo "render_svg.sh: $in: no width/height on <svg>" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="${width%.*},${height%.*}" --screenshot="$(realpath -m "$out")" "file://$(realpath "$in")" \
  2>/dev/null >/dev/null
echo "$out"

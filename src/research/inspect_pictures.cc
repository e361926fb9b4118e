#include "fqvit/research/inspect_pictures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "fqvit/research/png_write.h"
#include "fqvit/research/svg.h"

namespace fqvit {
namespace {

std::string fmt(const char* format, double v) {
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string db(double v) { return std::isfinite(v) ? fmt("%.1f", v) : "exact"; }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

const std::map<std::string, std::string>& role_colours() {
  static const std::map<std::string, std::string> kColours = {
      {"weight", "#4e79a7"}, {"activation", "#59a14f"}, {"residual", "#f28e2b"}, {"attention", "#b07aa1"}};
  return kColours;
}

}  // namespace

std::string layer_norm_ranges_svg(const std::vector<ChannelRange>& ranges, const std::string& title) {
  constexpr double kPanelW = 360, kPanelH = 200, kLeft = 56, kTop = 28, kBottom = 28, kRight = 10, kHeader = 56;
  constexpr int kColumns = 4;
  const int rows = static_cast<int>((ranges.size() + kColumns - 1) / kColumns);
  Svg svg(kPanelW * kColumns, kHeader + kPanelH * std::max(rows, 1) + 10);
  svg.text(10, 22, title, 16, "start", 0, "font-weight=\"bold\"");
  svg.text(10, 44,
           "each bar: one channel's [min, max] over the images; red: range > " + fmt("%.0f", kOutlierFactor) +
               "x the median channel's",
           12);
  for (size_t p = 0; p < ranges.size(); ++p) {
    const ChannelRange& r = ranges[p];
    const double ox = kPanelW * static_cast<double>(p % kColumns);
    const double oy = kHeader + kPanelH * static_cast<double>(p / kColumns);
    const double px = ox + kLeft, py = oy + kTop, pw = kPanelW - kLeft - kRight, ph = kPanelH - kTop - kBottom;
    const auto channels = static_cast<int64_t>(r.min.size());
    double lo = 0, hi = 0;
    std::vector<double> widths;
    for (int64_t c = 0; c < channels; ++c) {
      lo = std::min(lo, static_cast<double>(r.min[static_cast<size_t>(c)]));
      hi = std::max(hi, static_cast<double>(r.max[static_cast<size_t>(c)]));
      widths.push_back(static_cast<double>(r.max[static_cast<size_t>(c)]) - r.min[static_cast<size_t>(c)]);
    }
    const double med = median(widths);
    const double widest = widths.empty() ? 0 : *std::max_element(widths.begin(), widths.end());
    const std::vector<double> ticks = nice_ticks(lo, hi, 4);
    const double y0 = std::min(lo, ticks.front()), y1 = std::max(hi, ticks.back());
    const auto ymap = [&](double v) { return py + ph * (1 - (v - y0) / (y1 - y0 > 0 ? y1 - y0 : 1)); };
    int outliers = 0;
    svg.open_group("class=\"ln-input\" data-point=\"" + xml_escape(r.point) + "\"");
    svg.text(px, oy + 18, r.point, 11, "start", 0, "font-weight=\"bold\"");
    svg.rect(px, py, pw, ph, "none", "stroke=\"#999\"");
    for (double t : ticks) {
      svg.line(px - 4, ymap(t), px, ymap(t), "#333");
      svg.text(px - 6, ymap(t) + 4, fmt("%g", t), 10, "end");
    }
    svg.line(px, ymap(0), px + pw, ymap(0), "#ccc");
    const double step = pw / static_cast<double>(std::max<int64_t>(channels, 1));
    for (int64_t c = 0; c < channels; ++c) {
      const bool outlier = med > 0 && widths[static_cast<size_t>(c)] > kOutlierFactor * med;
      outliers += outlier ? 1 : 0;
      const double x = px + step * (static_cast<double>(c) + 0.5);
      svg.line(x, ymap(r.max[static_cast<size_t>(c)]), x, ymap(r.min[static_cast<size_t>(c)]),
               outlier ? "#d62728" : "#4e79a7", std::max(1.0, step * 0.8));
    }
    svg.text(px + pw / 2, py + ph + 18,
             "channel 0.." + std::to_string(channels - 1) + "; widest / median range " +
                 fmt("%.1f", med > 0 ? widest / med : 0) + "x; " + std::to_string(outliers) + " outlier(s)",
             10, "middle");
    svg.close_group();
  }
  return svg.str();
}

std::string attention_maps_svg(const std::vector<std::pair<std::string, AttentionMaps>>& columns, int heads,
                               const std::string& title, const std::string& subtitle) {
  constexpr double kCell = 240, kGap = 16, kLeft = 70, kTop = 76, kLog2Floor = -16;
  int64_t shown = heads;
  for (const auto& [label, maps] : columns) shown = std::min(shown, maps.maps);
  shown = std::max<int64_t>(shown, 0);
  const double width = kLeft + (kCell + kGap) * static_cast<double>(columns.size()) + 90;
  Svg svg(width, kTop + (kCell + kGap) * static_cast<double>(shown) + 20);
  svg.text(10, 22, title, 16, "start", 0, "font-weight=\"bold\"");
  svg.text(10, 42, subtitle + "; rows: query token, columns: key token; colour: log2 of the probability", 12);
  for (size_t c = 0; c < columns.size(); ++c) {
    const auto& [label, maps] = columns[c];
    const double x = kLeft + (kCell + kGap) * static_cast<double>(c);
    svg.text(x + kCell / 2, kTop - 10, label, 14, "middle", 0, "font-weight=\"bold\"");
    const int64_t n = maps.tokens;
    for (int64_t h = 0; h < shown; ++h) {
      std::vector<uint8_t> rgb(static_cast<size_t>(n * n * 3));
      const float* p = maps.probabilities.data() + h * n * n;
      for (int64_t i = 0; i < n * n; ++i) {
        const double v = p[i] > 0 ? std::log2(static_cast<double>(p[i])) : kLog2Floor;
        viridis((v - kLog2Floor) / -kLog2Floor, rgb.data() + i * 3);
      }
      const double y = kTop + (kCell + kGap) * static_cast<double>(h);
      svg.open_group("class=\"attention-map\" data-column=\"" + xml_escape(label) + "\" data-head=\"" +
                     std::to_string(h) + "\"");
      svg.png(x, y, kCell, kCell, encode_png_rgb(rgb, static_cast<int>(n), static_cast<int>(n)));
      svg.close_group();
      if (c == 0) svg.text(kLeft - 10, y + kCell / 2, "head " + std::to_string(h), 12, "end");
    }
  }
  // Colour bar.
  const double bx = kLeft + (kCell + kGap) * static_cast<double>(columns.size()) + 10, bh = kCell;
  std::vector<uint8_t> bar(64 * 3);
  for (int i = 0; i < 64; ++i) viridis(1.0 - i / 63.0, bar.data() + i * 3);
  svg.png(bx, kTop, 16, bh, encode_png_rgb(bar, 1, 64));
  for (int e = 0; e >= kLog2Floor; e -= 4) {
    const double y = kTop + bh * (static_cast<double>(-e) / -kLog2Floor);
    svg.text(bx + 20, y + 4, e == 0 ? "1" : "2^" + std::to_string(e), 11);
  }
  svg.text(bx + 20, kTop + bh + 16, "(and 0)", 10);
  return svg.str();
}

std::string quantizer_error_svg(const std::vector<QuantizerError>& errors, const std::string& title) {
  constexpr double kRow = 15, kLabelW = 300, kBarW = 520, kTop = 80, kRight = 120;
  double hi = 0;
  for (const auto& e : errors) {
    if (std::isfinite(e.sqnr_fp32_db)) hi = std::max(hi, e.sqnr_fp32_db);
    if (std::isfinite(e.sqnr_db)) hi = std::max(hi, e.sqnr_db);
  }
  double lo = 0;
  for (const auto& e : errors) {
    if (std::isfinite(e.sqnr_fp32_db)) lo = std::min(lo, e.sqnr_fp32_db);
  }
  const std::vector<double> ticks = nice_ticks(lo, hi, 6);
  const double x0 = ticks.front(), x1 = std::max(ticks.back(), hi);
  const auto xmap = [&](double v) {
    return kLabelW + kBarW * (std::clamp(std::isfinite(v) ? v : x1, x0, x1) - x0) / (x1 - x0 > 0 ? x1 - x0 : 1);
  };
  Svg svg(kLabelW + kBarW + kRight, kTop + kRow * static_cast<double>(errors.size()) + 40);
  svg.text(10, 22, title, 16, "start", 0, "font-weight=\"bold\"");
  svg.text(10, 42, "bar: SQNR against FP32 (dB), worst first; tick: own error (none: input already on its "
                   "grid); right: cosine vs FP32", 12);
  double lx = 10;
  for (const auto& [role, colour] : role_colours()) {
    svg.rect(lx, 52, 12, 12, colour);
    svg.text(lx + 16, 62, role, 11);
    lx += 100;
  }
  for (double t : ticks) {
    svg.line(xmap(t), kTop - 4, xmap(t), kTop + kRow * static_cast<double>(errors.size()), "#e5e5e5");
    svg.text(xmap(t), kTop - 6, fmt("%g", t), 10, "middle");
  }
  for (size_t i = 0; i < errors.size(); ++i) {
    const QuantizerError& e = errors[i];
    const double y = kTop + kRow * static_cast<double>(i);
    const auto colour = role_colours().count(e.role) ? role_colours().at(e.role) : std::string("#999");
    svg.open_group("class=\"quantizer\" data-name=\"" + xml_escape(e.name) + "\"");
    svg.title(e.name + ": " + db(e.sqnr_fp32_db) + " dB against FP32, own " + db(e.sqnr_db) + " dB");
    svg.text(kLabelW - 6, y + 11, e.name + " (" + e.kind + " " + std::to_string(e.bits) + "b)", 10, "end");
    const double zero = xmap(std::max(x0, 0.0)), end = xmap(e.sqnr_fp32_db);  // negative SQNR grows leftwards
    svg.rect(std::min(zero, end), y + 2, std::abs(end - zero), kRow - 4, colour);
    if (std::isfinite(e.sqnr_db)) svg.line(xmap(e.sqnr_db), y + 1, xmap(e.sqnr_db), y + kRow - 1, "#000", 2);
    svg.text(kLabelW + kBarW + 6, y + 11, db(e.sqnr_fp32_db) + " dB  cos " + fmt("%.4f", e.cosine_fp32), 10);
    svg.close_group();
  }
  return svg.str();
}

std::string quantizer_error_markdown(const std::vector<QuantizerError>& errors) {
  std::string out =
      "| quantizer | role | kind | bits | SQNR vs FP32 (dB) | cosine vs FP32 | own SQNR (dB) | own cosine |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const auto& e : errors) {
    out += "| " + e.name + " | " + e.role + " | " + e.kind + " | " + std::to_string(e.bits) + " | " +
           db(e.sqnr_fp32_db) + " | " + fmt("%.5f", e.cosine_fp32) + " | " + db(e.sqnr_db) + " | " +
           fmt("%.5f", e.cosine) + " |\n";
  }
  return out;
}

}  // namespace fqvit

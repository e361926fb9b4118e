#include "fqvit/research/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fqvit/core/error.h"
#include "fqvit/eval/eval_record.h"
#include "fqvit/research/svg.h"

namespace fqvit {
namespace {

using nlohmann::json;

std::string column_of(const json& r) {
  if (r.contains("model_name") && r["model_name"].is_string()) return r["model_name"];
  const std::string model = r.value("model", "?");
  const size_t slash = model.find_last_of('/');
  return slash == std::string::npos ? model : model.substr(slash + 1);
}

bool is_fp32(const json& r) { return r.value("engine", "") == "fp32"; }

std::string bits_text(const json& r) {
  if (!r.contains("bits")) return "?";
  const json& b = r["bits"];
  return std::to_string(b.value("weight", 0)) + "/" + std::to_string(b.value("activation", 0)) + "/" +
         std::to_string(b.value("attention", 0));
}

std::string percent(double v) {
  char text[16];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

bool several_quantized_engines(const std::vector<json>& records) {
  std::set<std::string> engines;
  for (const json& r : records) {
    if (!is_fp32(r)) engines.insert(r.value("engine", ""));
  }
  return engines.size() > 1;
}

template <typename T>
void add_unique(std::vector<T>* list, const T& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

}  // namespace

std::string markdown_table(const std::vector<json>& records, bool with_speed) {
  const bool with_engine = several_quantized_engines(records);
  std::vector<std::string> columns;
  std::vector<std::pair<std::string, std::string>> rows;  // (method, bits)
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> cells;
  for (const json& r : records) {
    const std::string column = column_of(r);
    add_unique(&columns, column);
    std::string method = is_fp32(r) ? "FP32" : r.value("method_label", r.value("label", "?"));
    if (with_engine && !is_fp32(r)) method += " (" + r.value("engine", "") + ")";
    const std::pair<std::string, std::string> row{method, is_fp32(r) ? "32/32/32" : bits_text(r)};
    add_unique(&rows, row);
    std::string cell = r.value("status", "") == "ok" ? percent(r.value("top1", 0.0)) : "failed";
    if (with_speed && r.value("status", "") == "ok") {
      char speed[32];
      std::snprintf(speed, sizeof speed, ", %.1f/s", r.value("images_per_second", 0.0));
      cell += speed;
    }
    cells[row][column] = cell;
  }
  std::stable_partition(rows.begin(), rows.end(), [](const auto& row) { return row.first == "FP32"; });
  std::string out = "| Method | W/A/Attn |";
  std::string rule = "|---|---|";
  for (const auto& c : columns) {
    out += " " + c + " |";
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  for (const auto& row : rows) {
    out += "| " + row.first + " | " + row.second + " |";
    for (const auto& c : columns) {
      const auto it = cells[row].find(c);
      out += ' ';
      out += it == cells[row].end() ? std::string("-") : it->second;
      out += " |";
    }
    out += "\n";
  }
  return out;
}

std::string plot_series(const json& r, bool with_engine) {
  std::string s = r.value("method_label", r.value("label", "?")) + ", Attn " +
                  std::to_string(r.contains("bits") ? r["bits"].value("attention", 0) : 0);
  if (with_engine) s += " (" + r.value("engine", "") + ")";
  return s;
}

std::string accuracy_plot_svg(const std::vector<json>& records) {
  constexpr double kPanelW = 520, kPanelH = 400, kLeft = 64, kRight = 16, kTop = 48, kBottom = 64, kLegendW = 300;
  const bool with_engine = several_quantized_engines(records);
  std::vector<std::string> models, series;
  std::vector<std::pair<int, int>> xs;  // (weight, activation) categories, most bits first
  std::map<std::string, double> fp32;
  // series -> model -> (w, a) -> top-1
  std::map<std::string, std::map<std::string, std::map<std::pair<int, int>, double>>> points;
  double lo = 100, hi = 0;
  for (const json& r : records) {
    if (r.value("status", "") != "ok") continue;
    const std::string model = column_of(r);
    add_unique(&models, model);
    const double top1 = r.value("top1", 0.0);
    lo = std::min(lo, top1);
    hi = std::max(hi, top1);
    if (is_fp32(r)) {
      fp32[model] = top1;
      continue;
    }
    const std::pair<int, int> x{r["bits"].value("weight", 0), r["bits"].value("activation", 0)};
    add_unique(&xs, x);
    const std::string s = plot_series(r, with_engine);
    add_unique(&series, s);
    points[s][model][x] = top1;
  }
  std::sort(xs.begin(), xs.end(), std::greater<>());
  if (models.empty()) models.push_back("no finished runs");
  const std::vector<double> ticks = nice_ticks(std::max(0.0, lo - 1), std::min(100.0, hi + 1));
  const double y0 = ticks.front(), y1 = ticks.back();
  const double width = kPanelW * static_cast<double>(models.size()) + kLegendW;
  const double legend_h = 60 + 22.0 * static_cast<double>(series.size() + 1);
  Svg svg(width, std::max(kPanelH, legend_h));
  for (size_t m = 0; m < models.size(); ++m) {
    const double ox = kPanelW * static_cast<double>(m);
    const double px = ox + kLeft, pw = kPanelW - kLeft - kRight, py = kTop, ph = kPanelH - kTop - kBottom;
    const auto ymap = [&](double v) { return py + ph * (1 - (v - y0) / (y1 - y0)); };
    const auto xmap = [&](size_t i) {
      return px + pw * (static_cast<double>(i) + 0.5) / static_cast<double>(std::max<size_t>(xs.size(), 1));
    };
    svg.text(ox + kPanelW / 2, 24, models[m], 15, "middle", 0, "font-weight=\"bold\"");
    svg.rect(px, py, pw, ph, "none", "stroke=\"#333\"");
    for (double t : ticks) {
      svg.line(px, ymap(t), px + pw, ymap(t), "#ddd", 1);
      svg.line(px - 5, ymap(t), px, ymap(t), "#333", 1);
      char label[16];
      std::snprintf(label, sizeof label, "%g", t);
      svg.text(px - 8, ymap(t) + 4, label, 11, "end");
    }
    for (size_t i = 0; i < xs.size(); ++i) {
      svg.line(xmap(i), py + ph, xmap(i), py + ph + 5, "#333", 1);
      svg.text(xmap(i), py + ph + 20, std::to_string(xs[i].first) + "/" + std::to_string(xs[i].second), 11, "middle");
    }
    svg.text(px + pw / 2, py + ph + 44, "weight / activation bits", 12, "middle");
    svg.text(ox + 18, py + ph / 2, "top-1 (%)", 12, "middle", -90);
    const auto f = fp32.find(models[m]);
    if (f != fp32.end()) {
      svg.open_group("class=\"fp32\"");
      svg.line(px, ymap(f->second), px + pw, ymap(f->second), "#000", 1.5, "stroke-dasharray=\"6,4\"");
      svg.text(px + pw - 4, ymap(f->second) - 5, "FP32 " + percent(f->second), 11, "end");
      svg.close_group();
    }
    for (size_t s = 0; s < series.size(); ++s) {
      const auto it = points[series[s]].find(models[m]);
      if (it == points[series[s]].end()) continue;
      svg.open_group("class=\"series\" data-series=\"" + xml_escape(series[s]) + "\" data-model=\"" +
                     xml_escape(models[m]) + "\"");
      std::vector<std::pair<double, double>> line;
      for (size_t i = 0; i < xs.size(); ++i) {
        const auto p = it->second.find(xs[i]);
        if (p != it->second.end()) line.emplace_back(xmap(i), ymap(p->second));
      }
      if (line.size() > 1) svg.polyline(line, series_colour(s), 2);
      for (const auto& [x, y] : line) svg.circle(x, y, 4, series_colour(s));
      svg.close_group();
    }
  }
  const double lx = kPanelW * static_cast<double>(models.size()) + 10;
  svg.text(lx, kTop, "method, attention bits", 12, "start", 0, "font-weight=\"bold\"");
  for (size_t s = 0; s < series.size(); ++s) {
    const double y = kTop + 22.0 * static_cast<double>(s + 1);
    svg.line(lx, y - 4, lx + 24, y - 4, series_colour(s), 3);
    svg.circle(lx + 12, y - 4, 4, series_colour(s));
    svg.text(lx + 32, y, series[s], 12);
  }
  const double y = kTop + 22.0 * static_cast<double>(series.size() + 1);
  svg.line(lx, y - 4, lx + 24, y - 4, "#000", 1.5, "stroke-dasharray=\"6,4\"");
  svg.text(lx + 32, y, "FP32", 12);
  return svg.str();
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the file");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail(path, "json", "not a JSON object", "a JSON object (fqvit-eval --json)");
  return j;
}

json merge_shards(const std::vector<std::pair<std::string, json>>& input) {
  if (input.empty()) fail("fqvit-report --merge", "shards", "none", "at least one shard JSON");
  static const std::vector<std::string> kNeeded = {"slice",        "shard",        "predictions", "images",
                                                   "top1_correct", "top5_correct", "skipped",     "skipped_images"};
  for (const auto& [path, j] : input) {
    for (const std::string& key : kNeeded) {
      if (!j.contains(key)) fail(path, key, "missing", "a shard record of fqvit-eval --shard I/N --json");
    }
    for (const std::string& key : eval_identity_keys()) {
      if (!j.contains(key)) fail(path, key, "missing", "a shard record of fqvit-eval --shard I/N --json");
    }
  }
  // Every shard must come from the same evaluation: model bytes, engine, settings, image list.
  const auto& [first_path, first] = input.front();
  for (const auto& [path, j] : input) {
    for (const std::string& key : eval_identity_keys()) {
      if (j[key] != first[key]) {
        fail(path, key, j[key].dump(), first[key].dump() + " as in " + first_path + " (shards of one evaluation)");
      }
    }
    if (j["slice"]["total"] != first["slice"]["total"]) {
      fail(path, "slice.total", j["slice"]["total"].dump(), first["slice"]["total"].dump() + " as in " + first_path);
    }
  }
  std::vector<const std::pair<std::string, json>*> order;
  for (const auto& s : input) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->second["slice"]["first"].template get<int64_t>() < b->second["slice"]["first"].template get<int64_t>();
  });
  const auto range = [](const json& j) {
    return "images " + j["slice"]["first"].dump() + ".." + std::to_string(j["slice"]["end"].get<int64_t>() - 1);
  };
  const int64_t total = first["slice"]["total"].get<int64_t>();
  int64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto* s : order) {
    const json& slice = s->second["slice"];
    const int64_t begin = slice["first"].get<int64_t>();
    if (begin < covered) {
      fail(s->first, "slice", range(s->second) + " (shard " + s->second["shard"].dump() + ")",
           "no overlap with " + *previous + ", which ends at image " + std::to_string(covered - 1));
    }
    if (begin > covered) {
      fail(s->first, "slice", range(s->second),
           "a shard starting at image " + std::to_string(covered) + ": images " + std::to_string(covered) + ".." +
               std::to_string(begin - 1) + " are in no shard (a gap)");
    }
    covered = slice["end"].get<int64_t>();
    previous = &s->first;
  }
  if (covered != total) {
    fail(*previous, "slice", "the last shard ends at image " + std::to_string(covered - 1),
         "shards up to image " + std::to_string(total - 1) + " of " + std::to_string(total) + ": images " +
             std::to_string(covered) + ".." + std::to_string(total - 1) + " are in no shard (a gap)");
  }

  json merged = first;
  int64_t images = 0, top1 = 0, top5 = 0, skipped = 0, nonfinite = 0;
  double seconds = 0, model_seconds = 0;
  json predictions = json::array(), skipped_images = json::array();
  for (const auto* s : order) {
    const json& j = s->second;
    images += j["images"].get<int64_t>();
    top1 += j["top1_correct"].get<int64_t>();
    top5 += j["top5_correct"].get<int64_t>();
    skipped += j["skipped"].get<int64_t>();
    nonfinite += j.value("nonfinite_logits", int64_t{0});
    seconds += j.value("seconds", 0.0);
    model_seconds += j.value("model_seconds", 0.0);
    for (const json& p : j["predictions"]) predictions.push_back(p);
    for (const json& e : j["skipped_images"]) skipped_images.push_back(e);
  }
  const auto pct = [&](int64_t n) {
    return images ? 100.0 * static_cast<double>(n) / static_cast<double>(images) : 0.0;
  };
  merged["images"] = images;
  merged["top1_correct"] = top1;
  merged["top5_correct"] = top5;
  merged["top1"] = pct(top1);
  merged["top5"] = pct(top5);
  merged["skipped"] = skipped;
  merged["skipped_images"] = skipped_images;
  if (merged.contains("nonfinite_logits")) merged["nonfinite_logits"] = nonfinite;
  merged["predictions"] = predictions;
  merged["seconds"] = seconds;  // total compute time of the shards (they may have run at once)
  merged["model_seconds"] = model_seconds;
  merged["images_per_second"] = seconds > 0 ? static_cast<double>(images) / seconds : 0.0;
  merged["model_images_per_second"] = model_seconds > 0 ? static_cast<double>(images) / model_seconds : 0.0;
  merged["shard"] = {{"index", 0}, {"count", 1}};
  merged["slice"] = {{"first", 0}, {"end", total}, {"total", total}};
  return merged;
}

}  // namespace fqvit

// fqvit-report's pieces: the paper-shaped Markdown table and the top-1-against-bits SVG of a sweep's results, and
// the exact merge of sharded evaluations.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fqvit {

// Rows: FP32, then each method and bit-width in the order the results hold them (with the engine when there are
// several); columns: models; cells: top-1 % (", N/s" images/s with_speed), "failed", or "-" when the run is
// missing. `records` are latest_by_key.
std::string markdown_table(const std::vector<nlohmann::json>& records, bool with_speed = false);

// The series a quantized record belongs to in the plot: its method label and attention bits ("MinMax+PTF+LIS,
// Attn 4"), with the engine when the results hold several quantized engines.
std::string plot_series(const nlohmann::json& record, bool with_engine);

// One panel per model: top-1 against weight/activation bits, one line per series, FP32 as a dashed line, axes,
// ticks, labels and a legend. Failed runs are left out (the table shows them).
std::string accuracy_plot_svg(const std::vector<nlohmann::json>& records);

// Adds up shards of one evaluation (fqvit-eval --shard I/N --json) into the record an unsharded run writes: counts
// summed, predictions concatenated in image order, seconds summed. Throws Error naming the files when shards come
// from different models, settings or image lists, overlap, or leave a gap.
nlohmann::json merge_shards(const std::vector<std::pair<std::string, nlohmann::json>>& shards);

// Reads a JSON file; throws Error naming it when it is not JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace fqvit

// fqvit-inspect's pictures, as self-contained SVG: LayerNorm-input channel ranges, attention maps side by side,
// and the per-quantizer error chart; plus the error table as Markdown.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fqvit/research/activation_probe.h"
#include "fqvit/research/quantizer_error.h"

namespace fqvit {

// One panel per LayerNorm input: every channel's [min, max] as a vertical bar, channels whose range exceeds
// kOutlierFactor times the median channel's range in red (the inter-channel variation PTF handles).
constexpr double kOutlierFactor = 10.0;
std::string layer_norm_ranges_svg(const std::vector<ChannelRange>& ranges, const std::string& title);

// Columns: the labelled captures (e.g. FP32, uniform 4-bit, LIS 4-bit) of one attention point; rows: the first
// `heads` maps. Colour: log2 of the probability from -16 (and exact zero) to 0.
std::string attention_maps_svg(const std::vector<std::pair<std::string, AttentionMaps>>& columns, int heads,
                               const std::string& title, const std::string& subtitle);

// Horizontal bars of SQNR against FP32 (dB), worst first, coloured by role, own SQNR as a tick, cosine labelled.
std::string quantizer_error_svg(const std::vector<QuantizerError>& errors, const std::string& title);
std::string quantizer_error_markdown(const std::vector<QuantizerError>& errors);

}  // namespace fqvit

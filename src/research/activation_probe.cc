#include "fqvit/research/activation_probe.h"

#include <algorithm>
#include <limits>
#include <map>
#include <regex>

#include "fqvit/calibrate/hooks.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/core/error.h"

namespace fqvit {
namespace {

class RangeHooks final : public QuantHooks {
 public:
  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    if (activation_role(name) != QuantRole::kResidual) return;
    auto [it, inserted] = ranges.try_emplace(name);
    ChannelRange& r = it->second;
    if (inserted) {
      r.point = name;
      r.min.assign(static_cast<size_t>(channels), std::numeric_limits<float>::infinity());
      r.max.assign(static_cast<size_t>(channels), -std::numeric_limits<float>::infinity());
    }
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t c = 0; c < channels; ++c) {
        const float v = x[i * channels + c];
        r.min[static_cast<size_t>(c)] = std::min(r.min[static_cast<size_t>(c)], v);
        r.max[static_cast<size_t>(c)] = std::max(r.max[static_cast<size_t>(c)], v);
      }
    }
  }
  std::map<std::string, ChannelRange> ranges;
};

// Copies the attention probabilities at one point after whatever produced them (float softmax, its uniform
// quantizer, or Log-Int-Softmax); passes everything else to the fake-quant hooks when there are any.
class AttentionHooks final : public QuantHooks {
 public:
  AttentionHooks(const QuantState* state, std::string point) : point_(std::move(point)) {
    if (state != nullptr) inner_.emplace(*state);
  }
  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    if (inner_) inner_->activation(name, x, rows, channels);
    if (name == point_) keep(x, rows, channels);
  }
  bool layer_norm(const std::string& in_q, const std::string& out_q, const float* x, int64_t rows, int64_t channels,
                  const Tensor& gamma, const Tensor& beta, float* y) override {
    return inner_ && inner_->layer_norm(in_q, out_q, x, rows, channels, gamma, beta, y);
  }
  bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
               int64_t cols) override {
    if (!inner_ || !inner_->softmax(name, logits_quantizer, x, rows, cols)) return false;
    if (name == point_) keep(x, rows, cols);
    return true;
  }
  AttentionMaps maps;

 private:
  void keep(const float* x, int64_t rows, int64_t cols) {
    maps.tokens = cols;
    maps.maps = rows / cols;
    maps.probabilities.assign(x, x + rows * cols);
  }
  std::string point_;
  std::optional<FakeQuantHooks> inner_;
};

}  // namespace

std::vector<ChannelRange> layer_norm_input_ranges(const VisionModel& model, const Tensor& images) {
  RangeHooks hooks;
  model.forward(images, &hooks);
  std::vector<ChannelRange> out;
  for (const std::string& name : model.activation_points()) {
    const auto it = hooks.ranges.find(name);
    if (it != hooks.ranges.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> attention_points(const VisionModel& model) {
  std::vector<std::string> out;
  for (const std::string& name : model.activation_points()) {
    if (activation_role(name) == QuantRole::kAttention) out.push_back(name);
  }
  return out;
}

int attention_heads(const ModelConfig& config, const std::string& point) {
  static const std::regex kSwinStage(R"(layers\.(\d+)\..*)");
  std::smatch m;
  if (config.family == ModelFamily::kSwin && std::regex_match(point, m, kSwinStage)) {
    const auto stage = static_cast<size_t>(std::stoi(m[1].str()));
    if (stage < config.stage_heads.size()) return config.stage_heads[stage];
  }
  return std::max(config.num_heads, 1);
}

AttentionMaps capture_attention(const VisionModel& model, const QuantState* state, const Tensor& image,
                                const std::string& point) {
  const std::vector<std::string> points = attention_points(model);
  if (std::find(points.begin(), points.end(), point) == points.end()) {
    std::string known;
    for (const auto& p : points) known += (known.empty() ? "" : ", ") + p;
    fail("fqvit-inspect", "attention point", point, "one of " + known);
  }
  std::unique_ptr<VisionModel> run = model.clone();
  if (state != nullptr) {
    state->check_complete(*run, "attention maps");
    fake_quantize_weights(*run, *state);
  }
  AttentionHooks hooks(state, point);
  run->forward(image, &hooks);
  hooks.maps.point = point;
  return hooks.maps;
}

}  // namespace fqvit

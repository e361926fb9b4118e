#include "fqvit/research/quantizer_error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "fqvit/calibrate/hooks.h"

namespace fqvit {
namespace {

// Keeps a copy of every activation point's tensor of an FP32 pass (the hook changes nothing).
class RecordingHooks final : public QuantHooks {
 public:
  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    std::vector<float>& v = tensors[name];
    v.insert(v.end(), x, x + rows * channels);
  }
  std::map<std::string, std::vector<float>> tensors;
};

// The fake-quant hooks, measured: each point's tensor before and after its quantizer, and against the FP32 pass.
class MeasuringHooks final : public QuantHooks {
 public:
  MeasuringHooks(const QuantState& state, const std::map<std::string, std::vector<float>>& fp32)
      : inner_(state), fp32_(fp32) {}

  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    const int64_t n = rows * channels;
    const std::vector<float> before(x, x + n);
    inner_.activation(name, x, rows, channels);
    measure(name, before.data(), x, n);
  }
  bool layer_norm(const std::string& in_q, const std::string& out_q, const float* x, int64_t rows, int64_t channels,
                  const Tensor& gamma, const Tensor& beta, float* y) override {
    return inner_.layer_norm(in_q, out_q, x, rows, channels, gamma, beta, y);
  }
  bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
               int64_t cols) override {
    std::vector<float> reference(x, x + rows * cols);
    if (!inner_.softmax(name, logits_quantizer, x, rows, cols)) return false;  // uniform: activation() follows
    // Log-Int-Softmax replaced softmax + quantizer: its own error is against the float softmax of the same logits.
    for (int64_t r = 0; r < rows; ++r) {
      float* row = reference.data() + r * cols;
      const float m = *std::max_element(row, row + cols);
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(static_cast<double>(row[c] - m));
      for (int64_t c = 0; c < cols; ++c) row[c] = static_cast<float>(std::exp(static_cast<double>(row[c] - m)) / sum);
    }
    measure(name, reference.data(), x, rows * cols);
    return true;
  }

  std::map<std::string, std::pair<ErrorSums, ErrorSums>> sums;  // name -> (own, against FP32)

 private:
  void measure(const std::string& name, const float* before, const float* after, int64_t n) {
    auto& [own, fp32] = sums[name];
    own.add(before, after, n);
    std::size_t& offset = offsets_[name];
    const auto it = fp32_.find(name);
    if (it != fp32_.end() && offset + static_cast<size_t>(n) <= it->second.size()) {
      fp32.add(it->second.data() + offset, after, n);
    }
    offset += static_cast<size_t>(n);
  }
  FakeQuantHooks inner_;
  const std::map<std::string, std::vector<float>>& fp32_;
  std::map<std::string, std::size_t> offsets_;
};

}  // namespace

void ErrorSums::add(const float* ref, const float* q, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref[i], v = q[i];
    ref2 += r * r;
    err2 += (r - v) * (r - v);
    dot += r * v;
    q2 += v * v;
  }
}

double ErrorSums::sqnr_db() const {
  if (err2 == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(ref2 / err2);
}

double ErrorSums::cosine() const {
  if (ref2 == 0 && q2 == 0) return 1.0;
  if (ref2 == 0 || q2 == 0) return 0.0;
  return dot / std::sqrt(ref2 * q2);
}

std::vector<QuantizerError> measure_quantizer_errors(const VisionModel& float_model, const QuantState& state,
                                                     const Tensor& images) {
  RecordingHooks recording;
  float_model.forward(images, &recording);

  std::unique_ptr<VisionModel> quantized = float_model.clone();
  state.check_complete(*quantized, "quantizer error");
  std::unique_ptr<VisionModel> reference = float_model.clone();
  fake_quantize_weights(*quantized, state);
  MeasuringHooks measuring(state, recording.tensors);
  quantized->forward(images, &measuring);

  std::vector<QuantizerError> out;
  for (const std::string& name : quantized->activation_points()) {
    const auto it = measuring.sums.find(name);
    if (it == measuring.sums.end()) continue;
    const auto q = state.activations.find(name);
    QuantizerError e;
    e.name = name;
    e.role = role_name(activation_role(name));
    e.kind = q != state.activations.end() ? q->second->kind() : "?";
    e.bits = q != state.activations.end() ? q->second->bit_type().bits : 0;
    e.sqnr_db = it->second.first.sqnr_db();
    e.cosine = it->second.first.cosine();
    e.sqnr_fp32_db = it->second.second.sqnr_db();
    e.cosine_fp32 = it->second.second.cosine();
    out.push_back(e);
  }
  const std::vector<WeightRef> fq = quantized->weights(), fp = reference->weights();
  for (size_t i = 0; i < fq.size() && i < fp.size(); ++i) {
    ErrorSums s;
    s.add(fp[i].weight->data(), fq[i].weight->data(), fp[i].weight->numel());
    QuantizerError e;
    e.name = fq[i].name;
    e.role = "weight";
    e.kind = "weight";
    const auto w = state.weights.find(fq[i].name);
    e.bits = w != state.weights.end() ? w->second.bit_type.bits : 0;
    e.sqnr_db = e.sqnr_fp32_db = s.sqnr_db();
    e.cosine = e.cosine_fp32 = s.cosine();
    out.push_back(e);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const QuantizerError& a, const QuantizerError& b) { return a.sqnr_fp32_db < b.sqnr_fp32_db; });
  return out;
}

}  // namespace fqvit

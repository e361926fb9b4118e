#include "fqvit/calibrate/hooks.h"

#include <cassert>

#include "fqvit/quant/int_layer_norm.h"

namespace fqvit {

CalibrationHooks::CalibrationHooks(const std::vector<QuantizerSpec>& specs, const QuantSettings& settings) {
  lis_.exp_shift = settings.lis_exp_shift;
  lis_.refine_logits = settings.extensions.lis_refined_logits;
  collect_means_ = settings.extensions.bias_correction;
  for (const QuantizerSpec& s : specs) {
    Point p{s, nullptr};
    if (!s.lis) {
      p.observer = s.observer == "ptf" ? make_ptf_observer(s.bit_type, s.ptf) : make_observer(s.observer, s.bit_type);
    }
    points_.emplace(s.name, std::move(p));
  }
}

void CalibrationHooks::activation(const std::string& name, float* x, int64_t rows, int64_t channels) {
  const auto it = points_.find(name);
  assert(it != points_.end());
  if (it == points_.end()) return;
  Point& p = it->second;
  if (p.spec.lis) {
    // The reference's LIS path never observes; it is only reached here in the float batches.
    if (last_) fitted_[name] = std::make_unique<LisQuantizer>(LisParams{p.spec.bit_type.bits, lis_.exp_shift, lis_.refine_logits});
    return;
  }
  if (collect_means_) {
    ChannelSums& s = sums_[name];
    s.sum.resize(static_cast<size_t>(channels), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < channels; ++c) s.sum[static_cast<size_t>(c)] += static_cast<double>(x[r * channels + c]);
    }
    s.rows += rows;
  }
  p.observer->update(x, rows, channels);
  if (last_) fitted_[name] = p.observer->fit(x, rows, channels);
}

bool CalibrationHooks::softmax(const std::string& name, const std::string& logits_quantizer, float* x,
                               int64_t rows, int64_t cols) {
  const auto it = points_.find(name);
  if (it == points_.end() || !it->second.spec.lis) return false;
  const auto logits = fitted_.find(logits_quantizer);
  if (logits == fitted_.end()) return false;  // not fitted yet: float softmax (batches 1..n-1)
  // Last batch: the logits quantizer has just been fitted but does not quantize during calibration, so LIS sees
  // the float logits with the new scale, as in the reference.
  auto lis = std::make_unique<LisQuantizer>(LisParams{it->second.spec.bit_type.bits, lis_.exp_shift, lis_.refine_logits});
  lis->softmax(x, rows, cols, *logits->second);
  fitted_[name] = std::move(lis);
  return true;
}

std::map<std::string, std::unique_ptr<ActivationQuantizer>> CalibrationHooks::take_fitted() {
  return std::move(fitted_);
}

std::map<std::string, std::vector<double>> CalibrationHooks::channel_means() const {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, s] : sums_) {
    std::vector<double>& m = out[name];
    for (double v : s.sum) m.push_back(v / static_cast<double>(s.rows));
  }
  return out;
}

const Observer* CalibrationHooks::observer(const std::string& name) const {
  const auto it = points_.find(name);
  return it == points_.end() ? nullptr : it->second.observer.get();
}

const ActivationQuantizer* FakeQuantHooks::find(const std::string& name) const {
  const auto it = state_.activations.find(name);
  assert(it != state_.activations.end() && "every point has a quantizer once the state is checked complete");
  return it == state_.activations.end() ? nullptr : it->second.get();
}

void FakeQuantHooks::activation(const std::string& name, float* x, int64_t rows, int64_t channels) {
  if (const ActivationQuantizer* q = find(name)) q->fake_quant(x, rows, channels);
}

bool FakeQuantHooks::layer_norm(const std::string& input_quantizer, const std::string& output_quantizer,
                                const float* x, int64_t rows, int64_t channels, const Tensor& gamma,
                                const Tensor& beta, float* y) {
  if (!state_.int_layer_norm) return false;
  const ActivationQuantizer* in = find(input_quantizer);
  const ActivationQuantizer* out = find(output_quantizer);
  if (in == nullptr || out == nullptr) return false;
  const std::vector<float> in_scales = in->channel_scales();
  const std::vector<float> out_scales = out->channel_scales();
  assert(!in_scales.empty() && !out_scales.empty() && channels % static_cast<int64_t>(in_scales.size()) == 0);
  // Beyond the reference's arithmetic (wide codes, K > 3, per-channel outputs) its float32 sums are not exact:
  // int64 sums instead.
  if (state_.settings.extensions.wide_layer_norm() || out_scales.size() > 1) {
    int_layer_norm_wide(x, rows, channels, in_scales.data(), static_cast<int64_t>(in_scales.size()), out_scales.data(),
                        static_cast<int64_t>(out_scales.size()), gamma.data(), beta.data(), y);
  } else {
    int_layer_norm_reference(x, rows, channels, in_scales.data(), static_cast<int64_t>(in_scales.size()),
                             out_scales[0], gamma.data(), beta.data(), y);
  }
  return true;
}

bool FakeQuantHooks::softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
                             int64_t cols) {
  const ActivationQuantizer* q = find(name);
  const ActivationQuantizer* logits = find(logits_quantizer);
  if (q == nullptr || logits == nullptr) return false;
  return q->softmax(x, rows, cols, *logits);
}

}  // namespace fqvit

// The two QuantHooks of this library: calibration (observe, fit on the last batch) and fake quantization.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fqvit/calibrate/observer.h"
#include "fqvit/calibrate/plan.h"
#include "fqvit/calibrate/quant_state.h"
#include "fqvit/model/quant_hooks.h"

namespace fqvit {

// Observes every activation point on the float forward pass; on the last batch each quantizer is fitted the moment
// its point is reached, as the reference does. Hence its order quirk is reproduced: with LIS, the logits quantizer
// gets its scale only in the last batch, so batches 1..n-1 run the float softmax and the last batch already runs
// Log-Int-Softmax (on the unquantized logits), which shifts every downstream statistic of that batch. LayerNorm
// stays float throughout. Memory is constant in the number of batches.
class CalibrationHooks final : public QuantHooks {
 public:
  CalibrationHooks(const std::vector<QuantizerSpec>& specs, const QuantSettings& settings);

  void begin_batch(bool last) { last_ = last; }
  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override;
  bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
               int64_t cols) override;

  // The fitted quantizers (after a last batch); moves them out.
  std::map<std::string, std::unique_ptr<ActivationQuantizer>> take_fitted();
  const Observer* observer(const std::string& name) const;
  // Per-channel means of every point's FP32 values over all batches (extension bias_correction; empty without it).
  std::map<std::string, std::vector<double>> channel_means() const;

 private:
  struct ChannelSums {
    std::vector<double> sum;
    int64_t rows = 0;
  };
  struct Point {
    QuantizerSpec spec;
    std::unique_ptr<Observer> observer;  // null for LIS
  };
  std::map<std::string, Point> points_;
  std::map<std::string, std::unique_ptr<ActivationQuantizer>> fitted_;
  std::map<std::string, ChannelSums> sums_;  // bias_correction only
  bool collect_means_ = false;
  LisParams lis_;
  bool last_ = false;
};

// Quantize-dequantize at every point with fitted quantizers; integer LayerNorm when the state says so; LIS where
// the softmax point's quantizer replaces the softmax. A point without a quantizer is a bug (the state was checked
// complete at load): it asserts and passes the tensor through.
class FakeQuantHooks final : public QuantHooks {
 public:
  explicit FakeQuantHooks(const QuantState& state) : state_(state) {}
  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override;
  bool layer_norm(const std::string& input_quantizer, const std::string& output_quantizer, const float* x,
                  int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float* y) override;
  bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
               int64_t cols) override;

 private:
  const ActivationQuantizer* find(const std::string& name) const;
  const QuantState& state_;
};

}  // namespace fqvit

// Calibration observers, by name: "minmax", "ema", "percentile", "omse" (per tensor) and "ptf" (per channel, for
// LayerNorm inputs). An observer sees every calibration batch through update() and turns into a fitted quantizer
// with fit(), which also gets the last batch (OMSE and the PTF alpha search look only at it, as the reference).
// Memory is constant in the number of batches. New observers plug in with register_observer().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fqvit/calibrate/extensions.h"
#include "fqvit/calibrate/quantizer.h"

namespace fqvit {

class Observer {
 public:
  virtual ~Observer() = default;
  // x [rows, channels], channel = last axis.
  virtual void update(const float* x, int64_t rows, int64_t channels) = 0;
  // Parameters from everything observed; `last` is the last batch (already passed to update()).
  virtual std::unique_ptr<ActivationQuantizer> fit(const float* last, int64_t rows, int64_t channels) const = 0;
  // The raw statistics, for reports: per-tensor {min}, {max}, or per channel.
  virtual std::vector<float> observed_min() const = 0;
  virtual std::vector<float> observed_max() const = 0;
};

using ObserverFactory = std::function<std::unique_ptr<Observer>(BitType)>;
void register_observer(const std::string& name, ObserverFactory factory);
// Throws Error for an unknown name, listing the known ones.
std::unique_ptr<Observer> make_observer(const std::string& name, BitType bit_type);
bool has_observer(const std::string& name);
// A PTF observer fitting with `options` ("ptf" is the reference's, PtfOptions{}).
std::unique_ptr<Observer> make_ptf_observer(BitType bit_type, PtfOptions options);
std::vector<std::string> observer_names();

// Reference constants.
constexpr float kEmaMomentum = 0.01f;            // m += 0.01 (cur - m)
constexpr double kPercentileAlpha = 0.99999;     // upper quantile; lower is 1 - alpha
constexpr int kOmseSteps = 90;                   // candidates (1 - 0.01 i) * range, i = 0..89

// torch.quantile(x, q) (linear interpolation, float32 rank arithmetic) of n values, in O(n): `scratch` is
// overwritten with a copy of x.
float quantile(const float* x, int64_t n, double q, std::vector<float>& scratch);
// The same on values already in `data` (reordered, not changed as a multiset: call it again for another q).
float quantile_inplace(std::vector<float>& data, double q);

}  // namespace fqvit

// The reference's observers (FQ-ViT models/ptq/observer/*.py), streaming: only running statistics are kept, and
// the last batch is read in place when fit() needs it.
// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>

#include "fqvit/calibrate/observer.h"
#include "fqvit/core/error.h"
#include "fqvit/core/named_registry.h"

namespace fqvit {
namespace {

struct Range {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

Range tensor_range(const float* x, int64_t n) {
  // Chunks across threads; inside a chunk an OpenMP simd reduction, which lets the compiler use vector min/max
  // (a plain loop may not: min/max are not associative under IEEE rules the compiler must keep).
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  float mn = std::numeric_limits<float>::infinity(), mx = -std::numeric_limits<float>::infinity();
#pragma omp parallel for reduction(min : mn) reduction(max : mx) schedule(static) if (n > (1 << 18))
  for (int64_t c = 0; c < chunks; ++c) {
    const float* p = x + c * kChunk;
    const int64_t len = std::min(kChunk, n - c * kChunk);
    float a = std::numeric_limits<float>::infinity(), b = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : a) reduction(max : b)
    for (int64_t i = 0; i < len; ++i) {  // this form (not std::min) is what GCC turns into vminps / vmaxps
      a = p[i] < a ? p[i] : a;
      b = p[i] > b ? p[i] : b;
    }
    mn = std::min(mn, a);
    mx = std::max(mx, b);
  }
  return {mn, mx};
}

// Per-tensor parameters: symmetric for signed types, asymmetric otherwise (the reference's rule).
QParams tensor_qparams(float mn, float mx, BitType bt) {
  return bt.is_signed ? weight_qparams(mn, mx, bt) : activation_qparams(mn, mx, bt);
}

// Mean squared error of quantize-dequantize of x for each candidate. One pass over x in cache-sized chunks, all
// candidates per chunk (OMSE has 90): float sums inside a chunk (vectorized), double across chunks.
std::vector<double> fake_quant_mse(const float* x, int64_t n, const std::vector<QParams>& candidates, BitType bt) {
  constexpr int64_t kChunk = 4096;
  const size_t m = candidates.size();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const float lo = static_cast<float>(bt.lo()), hi = static_cast<float>(bt.hi());
  std::vector<double> total(m, 0.0);
#pragma omp parallel
  {
    std::vector<double> local(m, 0.0);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      const float* p = x + c * kChunk;
      const int64_t len = std::min(kChunk, n - c * kChunk);
      for (size_t k = 0; k < m; ++k) {
        const float s = candidates[k].scale, zp = static_cast<float>(candidates[k].zero_point);
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < len; ++i) {
          const float d = p[i] - fake_quant_value(p[i], s, zp, lo, hi);
          acc += d * d;
        }
        local[k] += static_cast<double>(acc);
      }
    }
#pragma omp critical
    for (size_t k = 0; k < m; ++k) total[k] += local[k];
  }
  for (double& t : total) t /= static_cast<double>(std::max<int64_t>(n, 1));
  return total;
}

class PerTensorObserver : public Observer {
 public:
  explicit PerTensorObserver(BitType bt) : bt_(bt) {}
  std::vector<float> observed_min() const override { return {range_.min}; }
  std::vector<float> observed_max() const override { return {range_.max}; }

 protected:
  BitType bt_;
  Range range_;
  bool seen_ = false;
};

class MinMaxObserver : public PerTensorObserver {
 public:
  using PerTensorObserver::PerTensorObserver;
  void update(const float* x, int64_t rows, int64_t channels) override {
    const Range r = tensor_range(x, rows * channels);
    range_.min = std::min(range_.min, r.min);
    range_.max = std::max(range_.max, r.max);
    seen_ = true;
  }
  std::unique_ptr<ActivationQuantizer> fit(const float*, int64_t, int64_t) const override {
    return std::make_unique<UniformQuantizer>(tensor_qparams(range_.min, range_.max, bt_), bt_);
  }
};

// m <- m + 0.01 (cur - m) in float32; the first batch initializes.
class EmaObserver : public PerTensorObserver {
 public:
  using PerTensorObserver::PerTensorObserver;
  void update(const float* x, int64_t rows, int64_t channels) override { smooth(tensor_range(x, rows * channels)); }
  std::unique_ptr<ActivationQuantizer> fit(const float*, int64_t, int64_t) const override {
    return std::make_unique<UniformQuantizer>(tensor_qparams(range_.min, range_.max, bt_), bt_);
  }

 protected:
  void smooth(Range cur) {
    if (!seen_) {
      range_ = cur;
      seen_ = true;
      return;
    }
    range_.max = range_.max + kEmaMomentum * (cur.max - range_.max);
    range_.min = range_.min + kEmaMomentum * (cur.min - range_.min);
  }
};

// The 0.99999 / 0.00001 quantiles of each batch, EMA-smoothed.
class PercentileObserver : public EmaObserver {
 public:
  using EmaObserver::EmaObserver;
  void update(const float* x, int64_t rows, int64_t channels) override {
    const int64_t n = rows * channels;
    Range cur;
    // One scratch for all observers (only used when a quantile is not in a short tail), so memory does not grow
    // with the number of quantizers.
    static thread_local std::vector<float> scratch;
    cur.max = quantile(x, n, kPercentileAlpha, scratch);
    cur.min = quantile(x, n, 1.0 - kPercentileAlpha, scratch);
    smooth(cur);
  }
};

// MinMax range, then the shrink factor (1 - 0.01 i) with the lowest MSE on the last batch (first minimum wins).
class OmseObserver : public MinMaxObserver {
 public:
  using MinMaxObserver::MinMaxObserver;
  std::unique_ptr<ActivationQuantizer> fit(const float* last, int64_t rows, int64_t channels) const override {
    std::vector<QParams> candidates;
    for (int i = 0; i < kOmseSteps; ++i) {
      const float f = static_cast<float>(1.0 - i * 0.01);
      candidates.push_back(tensor_qparams(range_.min * f, range_.max * f, bt_));
    }
    const std::vector<double> score = fake_quant_mse(last, rows * channels, candidates, bt_);
    double best = 1e10;
    QParams best_qp = candidates[0];
    for (int i = 0; i < kOmseSteps; ++i) {  // strictly lower: the first minimum wins, as the reference
      if (score[static_cast<size_t>(i)] < best) best = score[static_cast<size_t>(i)], best_qp = candidates[static_cast<size_t>(i)];
    }
    return std::make_unique<UniformQuantizer>(best_qp, bt_);
  }
};

// PTF: per-channel range over all batches; scale8 from the overall range, zp with scale8, and per channel the
// alpha in 0..3 with the lowest MSE on the last batch (ties to the smaller alpha). With PtfOptions beyond the
// reference (docs/quantization.md 11.1): K from the calibration range, and per-channel zero points.
class PtfObserver : public Observer {
 public:
  PtfObserver(BitType bt, PtfOptions options) : bt_(bt), options_(options) {}
  void update(const float* x, int64_t rows, int64_t channels) override {
    if (min_.empty()) {
      min_.assign(static_cast<size_t>(channels), std::numeric_limits<float>::infinity());
      max_.assign(static_cast<size_t>(channels), -std::numeric_limits<float>::infinity());
    }
    assert(static_cast<int64_t>(min_.size()) == channels);
    const int threads_rows = 64;
#pragma omp parallel
    {
      std::vector<float> mn(min_.size(), std::numeric_limits<float>::infinity());
      std::vector<float> mx(max_.size(), -std::numeric_limits<float>::infinity());
#pragma omp for schedule(static, threads_rows)
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = x + r * channels;
        for (int64_t c = 0; c < channels; ++c) {
          mn[static_cast<size_t>(c)] = std::min(mn[static_cast<size_t>(c)], row[c]);
          mx[static_cast<size_t>(c)] = std::max(mx[static_cast<size_t>(c)], row[c]);
        }
      }
#pragma omp critical
      for (size_t c = 0; c < min_.size(); ++c) {
        min_[c] = std::min(min_[c], mn[c]);
        max_[c] = std::max(max_[c], mx[c]);
      }
    }
  }

  std::unique_ptr<ActivationQuantizer> fit(const float* last, int64_t rows, int64_t channels) const override {
    const float range = static_cast<float>(bt_.hi() - bt_.lo());
    const int k = options_.adaptive_k ? adaptive_k() : options_.k;
    PtfParams p;
    p.bit_type = bt_;
    const size_t cs = static_cast<size_t>(channels);
    if (!options_.channel_zero_point) {
      const float max_all = *std::max_element(max_.begin(), max_.end());
      const float min_all = *std::min_element(min_.begin(), min_.end());
      const float scale8 = std::max((max_all - min_all) / range, kMinScale);
      p.scale1 = scale8 / std::exp2(static_cast<float>(k));  // exact: a power of two (the reference: / 2 / 2 / 2)
      p.zero_point = asymmetric_zero_point(min_all, scale8, bt_);
    } else {
      // The widest channel (its range including 0) sets the coarsest scale s1 * 2^K.
      float widest = 0.0f;
      for (size_t c = 0; c < cs; ++c) widest = std::max(widest, channel_range(c));
      p.scale1 = std::max(widest / range, kMinScale) / std::exp2(static_cast<float>(k));
      p.zero_point = 0;
    }
    // Each candidate alpha's zero point per channel: the shared one, or the channel's own from its range.
    auto zero_point = [&](size_t c, int a) -> float {
      if (!options_.channel_zero_point) return static_cast<float>(p.zero_point);
      const float s = p.scale1 * std::exp2(static_cast<float>(a));
      return static_cast<float>(asymmetric_zero_point(std::min(min_[c], 0.0f), s, bt_));
    };
    const size_t candidates = static_cast<size_t>(k) + 1;
    std::vector<float> zps(candidates * cs);
    for (size_t a = 0; a < candidates; ++a) {
      for (size_t c = 0; c < cs; ++c) zps[a * cs + c] = zero_point(c, static_cast<int>(a));
    }
    p.alpha.assign(cs, 0);
    // Squared error of every (alpha, channel) over the last batch, row by row so the channel loop is contiguous.
    std::vector<double> err(candidates * cs, 0.0);
    const float lo = static_cast<float>(bt_.lo()), hi = static_cast<float>(bt_.hi());
#pragma omp parallel
    {
      std::vector<double> local(err.size(), 0.0);
      std::vector<float> row_err(cs);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = last + r * channels;
        for (size_t a = 0; a < candidates; ++a) {
          const float s = p.scale1 * static_cast<float>(1 << a);
          const float* zpa = zps.data() + a * cs;
          for (size_t c = 0; c < cs; ++c) {
            const float d = row[c] - fake_quant_value(row[c], s, zpa[c], lo, hi);
            row_err[c] = d * d;
          }
          double* acc = local.data() + a * cs;
          for (size_t c = 0; c < cs; ++c) acc[c] += static_cast<double>(row_err[c]);
        }
      }
#pragma omp critical
      for (size_t i = 0; i < err.size(); ++i) err[i] += local[i];
    }
    for (size_t c = 0; c < cs; ++c) {
      for (size_t a = 1; a < candidates; ++a) {  // strictly lower error wins: ties go to the smaller alpha
        if (err[a * cs + c] < err[p.alpha[c] * cs + c]) p.alpha[c] = static_cast<uint8_t>(a);
      }
    }
    if (options_.channel_zero_point) {
      p.zero_points.resize(cs);
      for (size_t c = 0; c < cs; ++c) p.zero_points[c] = static_cast<int32_t>(zps[p.alpha[c] * cs + c]);
      p.zero_point = p.zero_points[0];
    }
    return std::make_unique<PtfQuantizer>(std::move(p));
  }
  std::vector<float> observed_min() const override { return min_; }
  std::vector<float> observed_max() const override { return max_; }

 private:
  float channel_range(size_t c) const { return std::max(max_[c], 0.0f) - std::min(min_[c], 0.0f); }

  // K = ceil(log2(widest channel range / median channel range)), within [reference K, kPtfMaxK]: enough factors
  // of two that the median channel keeps its full code range while the widest is not clipped.
  int adaptive_k() const {
    std::vector<float> ranges(min_.size());
    for (size_t c = 0; c < ranges.size(); ++c) ranges[c] = channel_range(c);
    const float widest = *std::max_element(ranges.begin(), ranges.end());
    std::nth_element(ranges.begin(), ranges.begin() + static_cast<std::ptrdiff_t>(ranges.size() / 2), ranges.end());
    const float median = std::max(ranges[ranges.size() / 2], kMinScale);
    const int k = static_cast<int>(std::ceil(std::log2(static_cast<double>(widest) / static_cast<double>(median))));
    return std::min(std::max(k, kPtfMaxAlpha), kPtfMaxK);
  }

  BitType bt_;
  PtfOptions options_;
  std::vector<float> min_, max_;
};

NamedRegistry<ObserverFactory>& registry() {
  static NamedRegistry<ObserverFactory> r{
      {"minmax", [](BitType bt) { return std::make_unique<MinMaxObserver>(bt); }},
      {"ema", [](BitType bt) { return std::make_unique<EmaObserver>(bt); }},
      {"percentile", [](BitType bt) { return std::make_unique<PercentileObserver>(bt); }},
      {"omse", [](BitType bt) { return std::make_unique<OmseObserver>(bt); }},
      {"ptf", [](BitType bt) { return std::make_unique<PtfObserver>(bt, PtfOptions{}); }},
  };
  return r;
}

}  // namespace

namespace {

// Largest heap for the tail selection; beyond it, nth_element on a copy.
constexpr int64_t kTailMax = 1024;

struct Rank {
  int64_t below, above;
  float weight;
};

// torch.quantile's rank: q * (n - 1) in the input's dtype (float32).
Rank quantile_rank(int64_t n, double q) {
  const float rank = static_cast<float>(q) * static_cast<float>(n - 1);
  const auto below = static_cast<int64_t>(rank);
  return {below, static_cast<int64_t>(std::ceil(rank)), rank - static_cast<float>(below)};
}

// torch's lerp: a + w (b - a) for w < 0.5, else b - (b - a)(1 - w).
float lerp(float a, float b, float w) { return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w); }

// The k smallest (Less = std::less) or largest (Less = std::greater) values of x, sorted so that element i is the
// i-th in Less order. One pass; the heap is touched only by values that beat its top.
template <typename Less>
std::vector<float> tail(const float* x, int64_t n, int64_t k, Less less) {
  std::vector<float> heap(x, x + k);
  std::make_heap(heap.begin(), heap.end(), less);
  for (int64_t i = k; i < n; ++i) {
    if (less(x[i], heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), less);
      heap.back() = x[i];
      std::push_heap(heap.begin(), heap.end(), less);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), less);
  return heap;
}

}  // namespace

float quantile_inplace(std::vector<float>& data, double q) {
  const auto n = static_cast<int64_t>(data.size());
  assert(n > 0);
  const Rank r = quantile_rank(n, q);
  std::nth_element(data.begin(), data.begin() + r.below, data.end());
  const float a = data[static_cast<size_t>(r.below)];
  float b = a;
  if (r.above > r.below) b = *std::min_element(data.begin() + r.below + 1, data.end());
  return lerp(a, b, r.weight);
}

float quantile(const float* x, int64_t n, double q, std::vector<float>& scratch) {
  assert(n > 0);
  const Rank r = quantile_rank(n, q);
  // The observers ask for extreme quantiles (1e-5, 1 - 1e-5): select the few values of that tail in one pass.
  if (r.above + 1 <= kTailMax) {
    const std::vector<float> low = tail(x, n, r.above + 1, std::less<float>());
    return lerp(low[static_cast<size_t>(r.below)], low[static_cast<size_t>(r.above)], r.weight);
  }
  if (n - r.below <= kTailMax) {
    const std::vector<float> high = tail(x, n, n - r.below, std::greater<float>());  // high[i]: (n-1-i)-th
    return lerp(high[static_cast<size_t>(n - 1 - r.below)], high[static_cast<size_t>(n - 1 - r.above)], r.weight);
  }
  scratch.assign(x, x + n);
  return quantile_inplace(scratch, q);
}

std::unique_ptr<Observer> make_ptf_observer(BitType bit_type, PtfOptions options) {
  return std::make_unique<PtfObserver>(bit_type, options);
}

void register_observer(const std::string& name, ObserverFactory factory) { registry().add(name, std::move(factory)); }

bool has_observer(const std::string& name) { return static_cast<bool>(registry().find(name)); }

std::vector<std::string> observer_names() { return registry().names(); }

std::unique_ptr<Observer> make_observer(const std::string& name, BitType bit_type) {
  const ObserverFactory factory = registry().find(name);
  if (!factory) fail("observer", "name", name, "one of " + registry().joined_names());
  return factory(bit_type);
}

}  // namespace fqvit

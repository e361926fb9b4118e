#include "fqvit/calibrate/diagnosis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "fqvit/calibrate/extensions.h"
#include "fqvit/calibrate/hooks.h"
#include "fqvit/io/atomic_file.h"

namespace fqvit {
namespace {

constexpr size_t kDominantChannels = 3;

// Sums for SQNR and cosine of x' against a reference x.
struct ErrorSums {
  double signal = 0, noise = 0, dot = 0, approx = 0;

  void add(const float* x, const float* xq, int64_t n) {
    double s = 0, e = 0, d = 0, a = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double r = x[i], q = xq[i];
      s += r * r;
      e += (r - q) * (r - q);
      d += r * q;
      a += q * q;
    }
    signal += s, noise += e, dot += d, approx += a;
  }
  // A perfect copy is reported as 300 dB rather than infinity (JSON has no infinity).
  double sqnr_db() const { return noise > 0 ? 10.0 * std::log10(signal / noise) : 300.0; }
  double cosine() const { return signal > 0 && approx > 0 ? dot / std::sqrt(signal * approx) : 1.0; }
};

struct PointStats {
  ErrorSums own, model;
  bool model_seen = false;
  float min = INFINITY, max = -INFINITY;
  std::vector<float> channel_absmax;

  void observe_range(const float* x, int64_t rows, int64_t channels) {
    if (channel_absmax.empty()) channel_absmax.assign(static_cast<size_t>(channels), 0.0f);
    if (static_cast<int64_t>(channel_absmax.size()) != channels) return;  // a point called with another layout
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * channels;
      for (int64_t c = 0; c < channels; ++c) {
        min = std::min(min, row[c]);
        max = std::max(max, row[c]);
        float& m = channel_absmax[static_cast<size_t>(c)];
        m = std::max(m, std::fabs(row[c]));
      }
    }
  }
};

// One recorded tensor of the FP32 pass, in call order.
struct Recorded {
  std::string name;
  std::vector<float> values;
};

// FP32 pass: record every point's tensor and the error of its own quantizer on it.
class RecordHooks final : public QuantHooks {
 public:
  RecordHooks(const QuantState& state, std::map<std::string, PointStats>& stats, std::vector<Recorded>& tape)
      : state_(state), stats_(stats), tape_(tape) {}

  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    const int64_t n = rows * channels;
    PointStats& st = stats_[name];
    st.observe_range(x, rows, channels);
    tape_.push_back({name, std::vector<float>(x, x + n)});
    const auto pending = lis_pending_.find(name);
    if (pending != lis_pending_.end()) {  // the float softmax output against LIS's probabilities
      st.own.add(x, pending->second.data(), n);
      lis_pending_.erase(pending);
      return;
    }
    const auto it = state_.activations.find(name);
    if (it == state_.activations.end() || it->second->kind() == "lis") return;
    scratch_.assign(x, x + n);
    it->second->fake_quant(scratch_.data(), rows, channels);
    st.own.add(x, scratch_.data(), n);
  }

  bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
               int64_t cols) override {
    const auto q = state_.activations.find(name), logits = state_.activations.find(logits_quantizer);
    if (q != state_.activations.end() && logits != state_.activations.end() && q->second->kind() == "lis") {
      std::vector<float> probs(x, x + rows * cols);  // LIS on the FP32 logits, as calibration runs it
      q->second->softmax(probs.data(), rows, cols, *logits->second);
      lis_pending_[name] = std::move(probs);
    }
    return false;  // FP32 softmax; its output comes back through activation()
  }

 private:
  const QuantState& state_;
  std::map<std::string, PointStats>& stats_;
  std::vector<Recorded>& tape_;
  std::map<std::string, std::vector<float>> lis_pending_;
  std::vector<float> scratch_;
};

// Fake-quant pass: the usual hooks, each point compared with the FP32 tape entry of the same call.
class CompareHooks final : public QuantHooks {
 public:
  CompareHooks(const QuantState& state, std::map<std::string, PointStats>& stats, const std::vector<Recorded>& tape)
      : inner_(state), stats_(stats), tape_(tape) {}

  void activation(const std::string& name, float* x, int64_t rows, int64_t channels) override {
    inner_.activation(name, x, rows, channels);
    compare(name, x, rows * channels);
  }
  bool layer_norm(const std::string& input_quantizer, const std::string& output_quantizer, const float* x,
                  int64_t rows, int64_t channels, const Tensor& gamma, const Tensor& beta, float* y) override {
    return inner_.layer_norm(input_quantizer, output_quantizer, x, rows, channels, gamma, beta, y);
  }
  bool softmax(const std::string& name, const std::string& logits_quantizer, float* x, int64_t rows,
               int64_t cols) override {
    const bool replaced = inner_.softmax(name, logits_quantizer, x, rows, cols);
    if (replaced) compare(name, x, rows * cols);  // LIS: the graph calls no activation() for this point
    return replaced;
  }

 private:
  void compare(const std::string& name, const float* x, int64_t n) {
    // Both passes call the points in the same order; LIS points are in the FP32 tape through activation().
    while (next_ < tape_.size() && tape_[next_].name != name) ++next_;
    if (next_ == tape_.size()) return;
    const Recorded& r = tape_[next_++];
    if (static_cast<int64_t>(r.values.size()) != n) return;
    PointStats& st = stats_[name];
    st.model.add(r.values.data(), x, n);
    st.model_seen = true;
  }

  FakeQuantHooks inner_;
  std::map<std::string, PointStats>& stats_;
  const std::vector<Recorded>& tape_;
  size_t next_ = 0;
};

void fill_channels(const std::vector<float>& absmax, QuantizerDiagnosis& d) {
  d.channels = static_cast<int64_t>(absmax.size());
  if (absmax.empty()) return;
  std::vector<float> sorted = absmax;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  d.median_channel_absmax = sorted[sorted.size() / 2];
  std::vector<int64_t> order(absmax.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  const size_t k = std::min(kDominantChannels, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](int64_t a, int64_t b) {
                      return absmax[static_cast<size_t>(a)] > absmax[static_cast<size_t>(b)];
                    });
  for (size_t i = 0; i < k; ++i) d.dominant.push_back({order[i], absmax[static_cast<size_t>(order[i])]});
}

QuantizerDiagnosis weight_row(const WeightRef& w, const WeightQuant& q) {
  QuantizerDiagnosis d;
  d.name = w.name;
  d.kind = "weight";
  d.point_class = "weight";
  d.summary = q.bit_type.name() + " per output channel" + (q.input_exponent.empty() ? "" : ", input factors folded");
  const Tensor& t = *w.weight;
  const int64_t out = t.dim(0), k = t.numel() / out;
  Tensor fq = t;
  fake_quant_weight_tensor(fq, q);
  ErrorSums e;
  e.add(t.data(), fq.data(), t.numel());
  d.own_sqnr_db = e.sqnr_db();
  d.own_cosine = e.cosine();
  std::vector<float> absmax(static_cast<size_t>(out), 0.0f);
  d.min = INFINITY, d.max = -INFINITY;
  for (int64_t i = 0; i < t.numel(); ++i) {
    d.min = std::min(d.min, t[i]);
    d.max = std::max(d.max, t[i]);
    float& m = absmax[static_cast<size_t>(i / k)];
    m = std::max(m, std::fabs(t[i]));
  }
  fill_channels(absmax, d);  // output channels
  return d;
}

std::string fmt_row(const QuantizerDiagnosis& d) {
  char model[48] = "-";
  if (d.has_model_error) std::snprintf(model, sizeof model, "%7.2f %8.5f", d.model_sqnr_db, d.model_cosine);
  std::string dominant;
  for (const ChannelMagnitude& c : d.dominant) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s%lld:%.3g", dominant.empty() ? "" : " ", static_cast<long long>(c.channel),
                  static_cast<double>(c.absmax));
    dominant += buf;
  }
  char line[512];
  std::snprintf(line, sizeof line, "| %-28s | %-13s | %7.2f %8.5f | %-16s | %10.4g %10.4g | %8.3g | %-28s | %s |",
                d.name.c_str(), d.point_class.c_str(), d.own_sqnr_db, d.own_cosine, model,
                static_cast<double>(d.min), static_cast<double>(d.max), static_cast<double>(d.median_channel_absmax),
                dominant.c_str(), d.summary.c_str());
  return line;
}

}  // namespace

DiagnosisReport diagnose_quantizers(VisionModel& float_model, const QuantState& state,
                                    const std::vector<Tensor>& batches) {
  std::unique_ptr<VisionModel> quant_model = float_model.clone();
  quant_model->set_numerics(float_model.numerics());
  fake_quantize_weights(*quant_model, state);

  std::map<std::string, PointStats> stats;
  DiagnosisReport report;
  for (const Tensor& images : batches) {
    std::vector<Recorded> tape;
    RecordHooks record(state, stats, tape);
    float_model.forward(images, &record);
    CompareHooks compare(state, stats, tape);
    quant_model->forward(images, &compare);
    report.images += images.dim(0);
  }
  const ModelFamily family = float_model.config().family;
  for (const std::string& name : float_model.activation_points()) {
    const auto it = stats.find(name);
    if (it == stats.end()) continue;
    const PointStats& st = it->second;
    QuantizerDiagnosis d;
    d.name = name;
    d.point_class = point_class(name, family);
    const auto q = state.activations.find(name);
    if (q != state.activations.end()) {
      d.kind = q->second->kind();
      d.summary = q->second->summary();
    }
    d.own_sqnr_db = st.own.sqnr_db();
    d.own_cosine = st.own.cosine();
    d.has_model_error = st.model_seen;
    d.model_sqnr_db = st.model.sqnr_db();
    d.model_cosine = st.model.cosine();
    d.min = st.min;
    d.max = st.max;
    fill_channels(st.channel_absmax, d);
    report.rows.push_back(std::move(d));
  }
  for (const WeightRef& w : float_model.weights()) {
    const auto q = state.weights.find(w.name);
    if (q != state.weights.end()) report.rows.push_back(weight_row(w, q->second));
  }
  std::stable_sort(report.rows.begin(), report.rows.end(),
                   [](const QuantizerDiagnosis& a, const QuantizerDiagnosis& b) { return a.own_sqnr_db < b.own_sqnr_db; });
  return report;
}

std::string diagnosis_table(const DiagnosisReport& report, size_t max_rows) {
  std::string out = "Quantizers, worst own SQNR first (" + std::to_string(report.images) +
                    " calibration images; own = the quantizer alone on the FP32 tensor, model = the fake-quantized "
                    "model against FP32 at that point):\n\n";
  char head[512];
  std::snprintf(head, sizeof head, "| %-28s | %-13s | %-16s | %-16s | %-21s | %-8s | %-28s | %s |", "quantizer",
                "class", "own SQNR dB, cos", "model SQNR, cos", "FP32 min, max", "median |c|",
                "dominant channels (c:|x|max)", "parameters");
  out += head;
  out += "\n|---|---|---|---|---|---|---|---|\n";
  const size_t n = max_rows == 0 ? report.rows.size() : std::min(max_rows, report.rows.size());
  for (size_t i = 0; i < n; ++i) out += fmt_row(report.rows[i]) + "\n";
  if (n < report.rows.size()) out += "(" + std::to_string(report.rows.size() - n) + " more rows in the report file)\n";
  return out;
}

void write_diagnosis(const DiagnosisReport& report, const std::string& path) {
  const bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  write_file_atomically(path, [&](std::ostream& os) {
    if (!json) {
      os << diagnosis_table(report);
      return;
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const QuantizerDiagnosis& d : report.rows) {
      nlohmann::json dom = nlohmann::json::array();
      for (const ChannelMagnitude& c : d.dominant) dom.push_back({{"channel", c.channel}, {"absmax", c.absmax}});
      nlohmann::json r = {{"name", d.name},          {"kind", d.kind},
                          {"class", d.point_class},  {"summary", d.summary},
                          {"channels", d.channels},  {"own_sqnr_db", d.own_sqnr_db},
                          {"own_cosine", d.own_cosine}, {"min", d.min},
                          {"max", d.max},            {"median_channel_absmax", d.median_channel_absmax},
                          {"dominant_channels", dom}};
      if (d.has_model_error) {
        r["model_sqnr_db"] = d.model_sqnr_db;
        r["model_cosine"] = d.model_cosine;
      }
      rows.push_back(r);
    }
    os << nlohmann::json{{"images", report.images}, {"quantizers", rows}}.dump(1) << "\n";
  });
}

}  // namespace fqvit

// Float emulation of the reference: every float32 operation rounds on its own, as in torch (built with
// -ffp-contract=off, CMakeLists.txt).
#include "fqvit/calibrate/quantizer.h"

#include <cassert>
#include <cstdio>

#include "fqvit/core/error.h"
#include "fqvit/core/named_registry.h"

namespace fqvit {
namespace {

std::string fmt(const char* format, double a, double b = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

const std::vector<float>& need_floats(const QuantizerRecord& r, const std::string& key, size_t min_size,
                                      const std::string& origin) {
  const auto it = r.floats.find(key);
  if (it == r.floats.end() || it->second.size() < min_size) {
    fail(origin, key, it == r.floats.end() ? "missing" : std::to_string(it->second.size()) + " values",
         "at least " + std::to_string(min_size) + " float value(s) for a " + r.kind + " quantizer");
  }
  return it->second;
}

const std::vector<int32_t>& need_ints(const QuantizerRecord& r, const std::string& key, size_t min_size,
                                      const std::string& origin) {
  const auto it = r.ints.find(key);
  if (it == r.ints.end() || it->second.size() < min_size) {
    fail(origin, key, it == r.ints.end() ? "missing" : std::to_string(it->second.size()) + " values",
         "at least " + std::to_string(min_size) + " integer value(s) for a " + r.kind + " quantizer");
  }
  return it->second;
}

void check_scale(float s, const std::string& origin, const std::string& field) {
  if (!(s > 0.0f) || !std::isfinite(s)) fail(origin, field, std::to_string(s), "a finite scale > 0");
}

void check_zero_point(int32_t zp, BitType bt, const std::string& origin) {
  if (zp < bt.lo() || zp > bt.hi()) {
    fail(origin, "zero_point", std::to_string(zp),
         "within [" + std::to_string(bt.lo()) + ", " + std::to_string(bt.hi()) + "] of " + bt.name());
  }
}

std::unique_ptr<ActivationQuantizer> read_uniform(const QuantizerRecord& r, const std::string& origin) {
  const float s = need_floats(r, "scale", 1, origin)[0];
  const int32_t zp = need_ints(r, "zero_point", 1, origin)[0];
  check_scale(s, origin, "scale");
  check_zero_point(zp, r.bit_type, origin);
  return std::make_unique<UniformQuantizer>(QParams{s, zp}, r.bit_type);
}

std::unique_ptr<ActivationQuantizer> read_ptf(const QuantizerRecord& r, const std::string& origin) {
  PtfParams p;
  p.bit_type = r.bit_type;
  p.scale1 = need_floats(r, "scale1", 1, origin)[0];
  p.zero_point = need_ints(r, "zero_point", 1, origin)[0];
  check_scale(p.scale1, origin, "scale1");
  check_zero_point(p.zero_point, r.bit_type, origin);
  for (int32_t a : need_ints(r, "alpha", 1, origin)) {
    if (a < 0 || a > kPtfMaxK) fail(origin, "alpha", std::to_string(a), "0.." + std::to_string(kPtfMaxK));
    p.alpha.push_back(static_cast<uint8_t>(a));
  }
  if (r.ints.count("zero_points")) {  // per-channel zero points (fqvit_plus), one per alpha
    const std::vector<int32_t>& zps = r.ints.at("zero_points");
    if (zps.size() != p.alpha.size()) {
      fail(origin, "zero_points", std::to_string(zps.size()) + " values",
           std::to_string(p.alpha.size()) + " (one per channel, as alpha)");
    }
    for (int32_t zp : zps) check_zero_point(zp, r.bit_type, origin);
    p.zero_points = zps;
  }
  return std::make_unique<PtfQuantizer>(std::move(p));
}

std::unique_ptr<ActivationQuantizer> read_lis(const QuantizerRecord& r, const std::string& origin) {
  LisParams p;
  p.bits = r.bit_type.bits;
  p.exp_shift = need_ints(r, "exp_shift", 1, origin)[0];
  if (p.exp_shift < 8 || p.exp_shift > 30) fail(origin, "exp_shift", std::to_string(p.exp_shift), "8..30");
  if (r.ints.count("refine_logits")) {  // "lis_logits": "refined" (fqvit_plus); absent: the reference's i-exp
    const int32_t refine = need_ints(r, "refine_logits", 1, origin)[0];
    if (refine != 0 && refine != 1) fail(origin, "refine_logits", std::to_string(refine), "0 or 1");
    p.refine_logits = refine == 1;
  }
  if (r.bit_type.is_signed) fail(origin, "bit_type", r.bit_type.name(), "an unsigned log2 code type");
  return std::make_unique<LisQuantizer>(p);
}

NamedRegistry<QuantizerReader>& registry() {
  static NamedRegistry<QuantizerReader> r{{"uniform", read_uniform}, {"ptf", read_ptf}, {"lis", read_lis}};
  return r;
}

}  // namespace

void UniformQuantizer::fake_quant(float* x, int64_t rows, int64_t channels) const {
  fake_quant_inplace(x, rows * channels, qp_, bt_);
}

QuantizerRecord UniformQuantizer::record() const {
  return {kind(), bt_, {{"scale", {qp_.scale}}}, {{"zero_point", {qp_.zero_point}}}};
}

std::string UniformQuantizer::summary() const {
  return bt_.name() + fmt(" s=%.6g zp=%.0f", static_cast<double>(qp_.scale), qp_.zero_point);
}

void PtfQuantizer::fake_quant(float* x, int64_t rows, int64_t channels) const {
  ptf_fake_quant(x, rows, channels, p_);
}

QuantizerRecord PtfQuantizer::record() const {
  QuantizerRecord r{kind(), p_.bit_type, {{"scale1", {p_.scale1}}}, {{"zero_point", {p_.zero_point}}}};
  r.ints["alpha"].assign(p_.alpha.begin(), p_.alpha.end());
  if (!p_.zero_points.empty()) r.ints["zero_points"] = p_.zero_points;
  return r;
}

std::string PtfQuantizer::summary() const {
  std::vector<int> counts(kPtfMaxAlpha + 1, 0);
  for (uint8_t a : p_.alpha) {
    if (static_cast<size_t>(a) >= counts.size()) counts.resize(static_cast<size_t>(a) + 1, 0);
    ++counts[a];
  }
  std::string names;
  for (size_t a = 0; a < counts.size(); ++a) {
    if (a) names += '/';
    names += std::to_string(a);
  }
  std::string s = p_.bit_type.name() + fmt(" PTF s1=%.6g zp=%.0f", static_cast<double>(p_.scale1), p_.zero_point) +
                  (p_.zero_points.empty() ? "" : " (per channel)") + " alpha " + names + ":";
  for (int c : counts) {
    s += ' ';
    s += std::to_string(c);
  }
  return s;
}

void LisQuantizer::fake_quant(float* x, int64_t rows, int64_t channels) const {
  (void)x, (void)rows, (void)channels;
  assert(false && "LIS replaces the softmax; it never quantizes a float softmax output");
}

bool LisQuantizer::softmax(float* x, int64_t rows, int64_t cols, const ActivationQuantizer& logits) const {
  const std::vector<float> s = logits.channel_scales();
  assert(s.size() == 1);
  lis_fake_quant(x, rows, cols, s[0], p_);
  return true;
}

QuantizerRecord LisQuantizer::record() const {
  QuantizerRecord r{kind(), bit_type(), {}, {{"exp_shift", {p_.exp_shift}}}};
  if (p_.refine_logits) r.ints["refine_logits"] = {1};
  return r;
}

std::string LisQuantizer::summary() const {
  return "LIS " + std::to_string(p_.bits) + "-bit log2 (i-exp n=" + std::to_string(p_.exp_shift) +
         (p_.refine_logits ? ", refined logits)" : ")");
}

void register_quantizer(const std::string& kind, QuantizerReader reader) { registry().add(kind, std::move(reader)); }

std::unique_ptr<ActivationQuantizer> read_quantizer(const QuantizerRecord& record, const std::string& origin) {
  const QuantizerReader reader = registry().find(record.kind);
  if (!reader) fail(origin, "kind", record.kind, "one of " + registry().joined_names());
  if (!valid_activation_bits(record.bit_type.bits)) {
    fail(origin, "bits", std::to_string(record.bit_type.bits), "2.." + std::to_string(kMaxActivationBits));
  }
  return reader(record, origin);
}

std::vector<std::string> quantizer_kinds() { return registry().names(); }

}  // namespace fqvit

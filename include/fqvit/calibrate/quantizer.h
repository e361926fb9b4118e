// Fitted activation quantizers, by kind name: "uniform" (per tensor), "ptf" (per channel power-of-two factors on the
// residual stream), "lis" (Log-Int-Softmax on attention). New kinds plug in with register_quantizer(): the fake-quant
// hooks and the model file only talk to this interface and the registry.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fqvit/quant/bit_type.h"
#include "fqvit/quant/fake_quant.h"
#include "fqvit/quant/log_int_softmax.h"
#include "fqvit/quant/ptf.h"
#include "fqvit/quant/qparams.h"
#include "fqvit/quant/quantizer_record.h"

namespace fqvit {

// A fitted quantizer; record() is what it stores in a model file (quant/quantizer_record.h).
class ActivationQuantizer {
 public:
  virtual ~ActivationQuantizer() = default;
  virtual std::string kind() const = 0;
  virtual BitType bit_type() const = 0;
  // Quantize-dequantize x [rows, channels] in place (channel = last axis).
  virtual void fake_quant(float* x, int64_t rows, int64_t channels) const = 0;
  // Scale of every channel as a consumer (the integer LayerNorm) sees it; one entry for per-tensor quantizers.
  virtual std::vector<float> channel_scales() const = 0;
  // Softmax replacement: overwrite the attention logits x [rows, cols] (just handled by `logits`) with quantized
  // probabilities and return true; the default returns false (float softmax, then fake_quant on its output).
  virtual bool softmax(float* x, int64_t rows, int64_t cols, const ActivationQuantizer& logits) const {
    (void)x, (void)rows, (void)cols, (void)logits;
    return false;
  }
  virtual QuantizerRecord record() const = 0;
  // A one-line description for summaries ("uint8 s=0.0749 zp=136").
  virtual std::string summary() const = 0;
};

class UniformQuantizer final : public ActivationQuantizer {
 public:
  UniformQuantizer(QParams qp, BitType bt) : qp_(qp), bt_(bt) {}
  std::string kind() const override { return "uniform"; }
  BitType bit_type() const override { return bt_; }
  void fake_quant(float* x, int64_t rows, int64_t channels) const override;
  std::vector<float> channel_scales() const override { return {qp_.scale}; }
  QuantizerRecord record() const override;
  std::string summary() const override;
  QParams qparams() const { return qp_; }

 private:
  QParams qp_;
  BitType bt_;
};

class PtfQuantizer final : public ActivationQuantizer {
 public:
  explicit PtfQuantizer(PtfParams p) : p_(std::move(p)) {}
  std::string kind() const override { return "ptf"; }
  BitType bit_type() const override { return p_.bit_type; }
  void fake_quant(float* x, int64_t rows, int64_t channels) const override;
  std::vector<float> channel_scales() const override { return p_.channel_scales(); }
  QuantizerRecord record() const override;
  std::string summary() const override;
  const PtfParams& params() const { return p_; }

 private:
  PtfParams p_;
};

// Log-Int-Softmax: no fitted parameters, it takes the scale of the logits quantizer.
class LisQuantizer final : public ActivationQuantizer {
 public:
  explicit LisQuantizer(LisParams p) : p_(p) {}
  std::string kind() const override { return "lis"; }
  BitType bit_type() const override { return {p_.bits, false}; }
  void fake_quant(float* x, int64_t rows, int64_t channels) const override;  // not reached: softmax() replaces
  std::vector<float> channel_scales() const override { return {}; }
  bool softmax(float* x, int64_t rows, int64_t cols, const ActivationQuantizer& logits) const override;
  QuantizerRecord record() const override;
  std::string summary() const override;
  const LisParams& params() const { return p_; }

 private:
  LisParams p_;
};

// Rebuilds a quantizer from its record; throws Error naming `origin` and the field for a malformed record.
using QuantizerReader =
    std::function<std::unique_ptr<ActivationQuantizer>(const QuantizerRecord&, const std::string& origin)>;
void register_quantizer(const std::string& kind, QuantizerReader reader);
std::unique_ptr<ActivationQuantizer> read_quantizer(const QuantizerRecord& record, const std::string& origin);
std::vector<std::string> quantizer_kinds();

}  // namespace fqvit

// The common face of every float graph (ViT/DeiT, Swin): batched forward with optional quantization hooks, and the
// list of weight-quantized layers so calibration can fit and fake-quantize them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fqvit/core/tensor.h"
#include "fqvit/io/model_config.h"
#include "fqvit/io/safetensors.h"
#include "fqvit/numerics/float_kernels.h"
#include "fqvit/model/quant_hooks.h"

namespace fqvit {

// A Linear or Conv layer whose weight the reference quantizes (QLinear / QConv2d), under its module name.
// weight is [out, ...]: output channel first, as in the checkpoint.
struct WeightRef {
  std::string name;  // e.g. "blocks.0.attn.qkv", "patch_embed.proj", "head"
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;  // may be null (Swin patch-merging reduction)
};

class VisionModel {
 public:
  virtual ~VisionModel() = default;
  virtual const ModelConfig& config() const = 0;
  // images: normalized [B, in_chans, img_size, img_size]. Returns logits [B, num_classes].
  virtual Tensor forward(const Tensor& images, QuantHooks* hooks = nullptr) const = 0;
  // Weight-quantized layers in dataflow order; pointers stay valid for the model's lifetime.
  virtual std::vector<WeightRef> weights() = 0;
  // Activation quantizer names in dataflow order, as forward() calls them.
  virtual std::vector<std::string> activation_points() const = 0;
  virtual std::unique_ptr<VisionModel> clone() const = 0;

  // The float arithmetic forward() runs on: fast by default, torch for bit parity with the reference.
  void set_numerics(Numerics numerics) {
    kernels_ = &float_kernels(numerics);
    numerics_ = numerics;
  }
  Numerics numerics() const { return numerics_; }

 protected:
  const FloatKernels& kernels() const { return *kernels_; }

 private:
  Numerics numerics_ = Numerics::kFast;
  const FloatKernels* kernels_ = &float_kernels(Numerics::kFast);
};

// Loads `<dir>/config.json` and `<dir>/model.safetensors`; the family comes from the architecture name.
std::unique_ptr<VisionModel> load_model(const std::string& checkpoint_dir);
// The same from a parsed config and an open (or in-memory) safetensors file.
std::unique_ptr<VisionModel> load_model(ModelConfig config, const SafetensorsFile& file);
// The preprocessing must produce exactly the image the tensors were trained for (input_size = img_size, 3
// channels). Throws Error naming the config's origin otherwise.
void check_input_geometry(const ModelConfig& config);

}  // namespace fqvit

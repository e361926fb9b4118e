// The lowering's entry: reads the quantized file (read_quantized_file: codes, scales and quantizer records, no
// float graph), refuses what the integer kernels do not run, and hands the file to its family's lowering.
#include "fqvit/calibrate/plan.h"
#include "fqvit/core/error.h"
#include "fqvit/lower/lower.h"
#include "fqvit/model/vision_model.h"
#include "fqvit/model/vit_model.h"
#include "lower/lower_models.h"

namespace fqvit {

LoweredModel lower_quantized_model(const QuantizedFile& file, const std::string& origin) {
  ModelConfig config = parse_model_config(file.model_config, origin + " (__metadata__.model_config)");
  if (config.family != ModelFamily::kVit && config.family != ModelFamily::kSwin) {
    fail(origin, "__metadata__.model_config.architecture", config.architecture, "a ViT, DeiT or Swin model");
  }
  const QuantSettings settings = parse_quant_settings(file.settings_json, origin + " (__metadata__.quantization)");
  const bool int_layer_norm = file.int_layer_norm.value_or(settings.ptf);
  if (config.family == ModelFamily::kSwin) {
    check_input_geometry(config);
    return lower::lower_swin({file, std::move(config), int_layer_norm, settings.extensions.wide_layer_norm(), origin});
  }
  config = vit_config_from_tensors(file.file, std::move(config));
  check_input_geometry(config);
  return lower::lower_vit({file, std::move(config), int_layer_norm, settings.extensions.wide_layer_norm(), origin});
}

LoweredModel lower_quantized_model(const std::string& path) { return lower_quantized_model(read_quantized_file(path), path); }

}  // namespace fqvit

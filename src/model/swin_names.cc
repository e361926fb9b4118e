#include "fqvit/model/swin_names.h"

#include <algorithm>
#include <cassert>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

enum class Scope { kModel, kBlock, kMerge };

struct NameEntry {
  SwinTensor tensor;
  Scope scope;
  const char* name;       // official layout; per-block names follow "layers.{s}.blocks.{b}.", per-merge names
                          // follow "layers.{s}.downsample."
  const char* timm_name;  // where timm differs (model scope only), else null
};

constexpr NameEntry kSwinNames[] = {
    {SwinTensor::kPatchWeight, Scope::kModel, "patch_embed.proj.weight", nullptr},
    {SwinTensor::kPatchBias, Scope::kModel, "patch_embed.proj.bias", nullptr},
    {SwinTensor::kPatchNormWeight, Scope::kModel, "patch_embed.norm.weight", nullptr},
    {SwinTensor::kPatchNormBias, Scope::kModel, "patch_embed.norm.bias", nullptr},
    {SwinTensor::kNorm1Weight, Scope::kBlock, "norm1.weight", nullptr},
    {SwinTensor::kNorm1Bias, Scope::kBlock, "norm1.bias", nullptr},
    {SwinTensor::kRelPosBiasTable, Scope::kBlock, "attn.relative_position_bias_table", nullptr},
    {SwinTensor::kRelPosIndex, Scope::kBlock, "attn.relative_position_index", nullptr},
    {SwinTensor::kAttnMask, Scope::kBlock, "attn_mask", nullptr},
    {SwinTensor::kQkvWeight, Scope::kBlock, "attn.qkv.weight", nullptr},
    {SwinTensor::kQkvBias, Scope::kBlock, "attn.qkv.bias", nullptr},
    {SwinTensor::kProjWeight, Scope::kBlock, "attn.proj.weight", nullptr},
    {SwinTensor::kProjBias, Scope::kBlock, "attn.proj.bias", nullptr},
    {SwinTensor::kNorm2Weight, Scope::kBlock, "norm2.weight", nullptr},
    {SwinTensor::kNorm2Bias, Scope::kBlock, "norm2.bias", nullptr},
    {SwinTensor::kFc1Weight, Scope::kBlock, "mlp.fc1.weight", nullptr},
    {SwinTensor::kFc1Bias, Scope::kBlock, "mlp.fc1.bias", nullptr},
    {SwinTensor::kFc2Weight, Scope::kBlock, "mlp.fc2.weight", nullptr},
    {SwinTensor::kFc2Bias, Scope::kBlock, "mlp.fc2.bias", nullptr},
    {SwinTensor::kMergeNormWeight, Scope::kMerge, "norm.weight", nullptr},
    {SwinTensor::kMergeNormBias, Scope::kMerge, "norm.bias", nullptr},
    {SwinTensor::kMergeReduction, Scope::kMerge, "reduction.weight", nullptr},
    {SwinTensor::kNormWeight, Scope::kModel, "norm.weight", nullptr},
    {SwinTensor::kNormBias, Scope::kModel, "norm.bias", nullptr},
    {SwinTensor::kHeadWeight, Scope::kModel, "head.weight", "head.fc.weight"},
    {SwinTensor::kHeadBias, Scope::kModel, "head.bias", "head.fc.bias"},
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::string swin_tensor_name(SwinTensor tensor, SwinLayout layout, int stage, int block) {
  for (const auto& e : kSwinNames) {
    if (e.tensor != tensor) continue;
    switch (e.scope) {
      case Scope::kModel:
        return layout == SwinLayout::kTimm && e.timm_name != nullptr ? e.timm_name : e.name;
      case Scope::kBlock:
        assert(stage >= 0 && block >= 0);
        return "layers." + std::to_string(stage) + ".blocks." + std::to_string(block) + "." + e.name;
      case Scope::kMerge: {
        assert(stage >= 0);
        // timm moved the merging that closes official stage s to the start of stage s + 1.
        const int holder = layout == SwinLayout::kTimm ? stage + 1 : stage;
        return "layers." + std::to_string(holder) + ".downsample." + e.name;
      }
    }
  }
  assert(false && "every SwinTensor has a name");
  return {};
}

SwinLayout detect_swin_layout(const std::vector<std::string>& names, const std::string& file) {
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  const bool head_timm = has("head.fc.weight");
  const bool head_official = has("head.weight");
  const bool merge_in_stage0 = std::any_of(names.begin(), names.end(),
                                           [](const std::string& n) { return starts_with(n, "layers.0.downsample."); });
  const bool any_merge = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return starts_with(n, "layers.") && n.find(".downsample.") != std::string::npos;
  });
  if (head_timm && head_official) {
    fail(file, "head", "both head.weight and head.fc.weight", "one classifier (official head.* or timm head.fc.*)");
  }
  if (!head_timm && !head_official) {
    fail(file, "head", "neither head.weight nor head.fc.weight", "a Swin classifier (official head.* or timm head.fc.*)");
  }
  if (head_timm) {
    if (merge_in_stage0) {
      fail(file, "layers.0.downsample", "present beside head.fc.weight",
           "timm layout: no merging in stage 0 (it opens stages 1..n-1)");
    }
    return SwinLayout::kTimm;
  }
  if (any_merge && !merge_in_stage0) {
    fail(file, "layers.0.downsample", "missing beside head.weight (merging found in later stages)",
         "official layout: layers.{i}.downsample closes every stage but the last");
  }
  return SwinLayout::kOfficial;
}

}  // namespace fqvit

#include "fqvit/model/vit_names.h"

#include <cassert>
#include <cstddef>

namespace fqvit {
namespace {

struct NameEntry {
  VitTensor tensor;
  const char* name;  // per-block names are the part after "blocks.{i}."
  bool per_block;
};

constexpr NameEntry kVitNames[] = {
    {VitTensor::kClsToken, "cls_token", false},
    {VitTensor::kDistToken, "dist_token", false},
    {VitTensor::kPosEmbed, "pos_embed", false},
    {VitTensor::kPatchWeight, "patch_embed.proj.weight", false},
    {VitTensor::kPatchBias, "patch_embed.proj.bias", false},
    {VitTensor::kNorm1Weight, "norm1.weight", true},
    {VitTensor::kNorm1Bias, "norm1.bias", true},
    {VitTensor::kQkvWeight, "attn.qkv.weight", true},
    {VitTensor::kQkvBias, "attn.qkv.bias", true},
    {VitTensor::kProjWeight, "attn.proj.weight", true},
    {VitTensor::kProjBias, "attn.proj.bias", true},
    {VitTensor::kNorm2Weight, "norm2.weight", true},
    {VitTensor::kNorm2Bias, "norm2.bias", true},
    {VitTensor::kFc1Weight, "mlp.fc1.weight", true},
    {VitTensor::kFc1Bias, "mlp.fc1.bias", true},
    {VitTensor::kFc2Weight, "mlp.fc2.weight", true},
    {VitTensor::kFc2Bias, "mlp.fc2.bias", true},
    {VitTensor::kNormWeight, "norm.weight", false},
    {VitTensor::kNormBias, "norm.bias", false},
    {VitTensor::kHeadWeight, "head.weight", false},
    {VitTensor::kHeadBias, "head.bias", false},
    {VitTensor::kHeadDistWeight, "head_dist.weight", false},
    {VitTensor::kHeadDistBias, "head_dist.bias", false},
};

}  // namespace

std::string vit_tensor_name(VitTensor tensor, int block) {
  for (const auto& e : kVitNames) {
    if (e.tensor != tensor) continue;
    if (!e.per_block) return e.name;
    assert(block >= 0);
    return "blocks." + std::to_string(block) + "." + e.name;
  }
  assert(false && "every VitTensor has a name");
  return {};
}

}  // namespace fqvit

#include "fqvit/model/vit_names.h"

#include <cassert>
#include <cctype>
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

struct PointEntry {
  VitPoint point;
  const char* name;  // per-block names are the part after "blocks.{i}."
  bool per_block;
  QuantRole role;
  const char* producer;
  const char* inputs;
};

constexpr PointEntry kVitPoints[] = {
    {VitPoint::kInput, "qact_input", false, QuantRole::kActivation, "ImageNet normalization", "the image"},
    {VitPoint::kPatchEmbed, "patch_embed.qact", false, QuantRole::kActivation, "patch_embed.proj conv",
     "the image (qact_input if quantized)"},
    {VitPoint::kClsEmbed, "qact_embed", false, QuantRole::kActivation, "cat(cls_token[, dist_token], patches)",
     "patch_embed.qact"},
    {VitPoint::kPosEmbed, "qact_pos", false, QuantRole::kActivation, "pos_embed (a parameter)", "none"},
    {VitPoint::kTokens, "qact1", false, QuantRole::kResidual, "add", "qact_embed, qact_pos"},
    {VitPoint::kNorm1, "qact1", true, QuantRole::kActivation, "norm1 LayerNorm",
     "the residual stream (qact1, or the previous block's qact4)"},
    {VitPoint::kQkv, "attn.qact1", true, QuantRole::kActivation, "attn.qkv linear", "qact1"},
    {VitPoint::kScores, "attn.qact_attn1", true, QuantRole::kActivation, "q @ k^T * scale", "attn.qact1"},
    {VitPoint::kSoftmax, "attn.log_int_softmax", true, QuantRole::kAttention, "softmax", "attn.qact_attn1"},
    {VitPoint::kContext, "attn.qact2", true, QuantRole::kActivation, "softmax @ v", "attn.log_int_softmax, attn.qact1"},
    {VitPoint::kProj, "attn.qact3", true, QuantRole::kActivation, "attn.proj linear", "attn.qact2"},
    {VitPoint::kResidual1, "qact2", true, QuantRole::kResidual, "add", "the residual stream, attn.qact3"},
    {VitPoint::kNorm2, "qact3", true, QuantRole::kActivation, "norm2 LayerNorm", "qact2"},
    {VitPoint::kFc1, "mlp.qact1", true, QuantRole::kActivation, "mlp.fc1 linear + GELU", "qact3"},
    {VitPoint::kFc2, "mlp.qact2", true, QuantRole::kActivation, "mlp.fc2 linear", "mlp.qact1"},
    {VitPoint::kResidual2, "qact4", true, QuantRole::kResidual, "add", "qact2, mlp.qact2"},
    {VitPoint::kFinalNorm, "qact2", false, QuantRole::kActivation, "norm LayerNorm",
     "the last block's qact4 (prefix tokens only are used)"},
    {VitPoint::kLogits, "act_out", false, QuantRole::kActivation, "head linear", "qact2 (class token)"},
    {VitPoint::kLogitsDist, "act_out_dist", false, QuantRole::kActivation, "head_dist linear",
     "qact2 (distillation token)"},
};

const PointEntry& point_entry(VitPoint point) {
  for (const auto& e : kVitPoints) {
    if (e.point == point) return e;
  }
  assert(false && "every VitPoint has an entry");
  return kVitPoints[0];
}

// "blocks.{digits}." at the start of `name`: its length, else 0.
size_t block_prefix_length(const std::string& name) {
  const std::string head = "blocks.";
  if (name.compare(0, head.size(), head) != 0) return 0;
  size_t i = head.size();
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  return i > head.size() && i < name.size() && name[i] == '.' ? i + 1 : 0;
}

}  // namespace

std::string vit_point_name(VitPoint point, int block) {
  const PointEntry& e = point_entry(point);
  if (!e.per_block) return e.name;
  assert(block >= 0);
  return "blocks." + std::to_string(block) + "." + e.name;
}

std::vector<QuantPoint> vit_points(int depth, bool quantize_input, bool distilled) {
  std::vector<QuantPoint> points;
  const auto add = [&](const PointEntry& e, int block) {
    points.push_back({vit_point_name(e.point, block), e.role, e.producer, e.inputs});
  };
  for (const auto& e : kVitPoints) {
    if (e.per_block) continue;
    if (e.point == VitPoint::kInput && !quantize_input) continue;
    if (e.point == VitPoint::kLogitsDist && !distilled) continue;
    if (e.point == VitPoint::kFinalNorm) {  // the blocks come between the stem and the final norm
      for (int i = 0; i < depth; ++i) {
        for (const auto& b : kVitPoints) {
          if (b.per_block) add(b, i);
        }
      }
    }
    add(e, -1);
  }
  return points;
}

bool parse_vit_point(const std::string& name, VitPoint* point, int* block) {
  const size_t prefix = block_prefix_length(name);
  for (const auto& e : kVitPoints) {
    if (e.per_block ? prefix > 0 && name.compare(prefix, std::string::npos, e.name) == 0 : name == e.name) {
      *point = e.point;
      *block = e.per_block ? std::stoi(name.substr(7, prefix - 8)) : -1;  // "blocks." is 7 characters
      return true;
    }
  }
  return false;
}

bool vit_point_role(const std::string& name, QuantRole* role) {
  VitPoint point;
  int block;
  if (!parse_vit_point(name, &point, &block)) return false;
  *role = point_entry(point).role;
  return true;
}

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

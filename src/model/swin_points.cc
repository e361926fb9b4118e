// The Swin quantizer point table (swin_names.h): names, roles, producing ops and inputs, as swin_forward.cc runs them.
#include <cassert>
#include <cctype>
#include <cstddef>

#include "fqvit/model/swin_names.h"

namespace fqvit {
namespace {

enum class Scope { kModel, kBlock, kMerge };

struct PointEntry {
  SwinPoint point;
  const char* name;  // after the block's or merging's prefix
  Scope scope;
  QuantRole role;
  const char* producer;
  const char* inputs;
};

constexpr PointEntry kSwinPoints[] = {
    {SwinPoint::kInput, "qact_input", Scope::kModel, QuantRole::kActivation, "ImageNet normalization", "the image"},
    {SwinPoint::kPatchEmbed, "patch_embed.qact_before_norm", Scope::kModel, QuantRole::kActivation,
     "patch_embed.proj conv", "the image (qact_input if quantized)"},
    {SwinPoint::kPatchNorm, "patch_embed.qact", Scope::kModel, QuantRole::kActivation, "patch_embed.norm LayerNorm",
     "patch_embed.qact_before_norm"},
    {SwinPoint::kNorm1, "qact1", Scope::kBlock, QuantRole::kActivation, "norm1 LayerNorm",
     "the residual stream (patch_embed.qact, the previous block's qact4 or the merging's qact2)"},
    {SwinPoint::kQkv, "attn.qact1", Scope::kBlock, QuantRole::kActivation, "attn.qkv linear on (shifted) windows",
     "qact1"},
    {SwinPoint::kScores, "attn.qact_attn1", Scope::kBlock, QuantRole::kActivation, "(q * scale) @ k^T",
     "attn.qact1"},
    {SwinPoint::kBiasTable, "attn.qact_table", Scope::kBlock, QuantRole::kActivation,
     "relative_position_bias_table (a parameter)", "none"},
    {SwinPoint::kScoresBiased, "attn.qact2", Scope::kBlock, QuantRole::kActivation, "add (relative position bias)",
     "attn.qact_attn1, attn.qact_table"},
    {SwinPoint::kSoftmax, "attn.log_int_softmax", Scope::kBlock, QuantRole::kAttention,
     "softmax (after the shift mask)", "attn.qact2"},
    {SwinPoint::kContext, "attn.qact3", Scope::kBlock, QuantRole::kActivation, "softmax @ v",
     "attn.log_int_softmax, attn.qact1"},
    {SwinPoint::kProj, "attn.qact4", Scope::kBlock, QuantRole::kActivation, "attn.proj linear", "attn.qact3"},
    {SwinPoint::kResidual1, "qact2", Scope::kBlock, QuantRole::kResidual, "add (windows reversed, shift undone)",
     "the residual stream, attn.qact4"},
    {SwinPoint::kNorm2, "qact3", Scope::kBlock, QuantRole::kActivation, "norm2 LayerNorm", "qact2"},
    {SwinPoint::kFc1, "mlp.qact1", Scope::kBlock, QuantRole::kActivation, "mlp.fc1 linear + GELU", "qact3"},
    {SwinPoint::kFc2, "mlp.qact2", Scope::kBlock, QuantRole::kActivation, "mlp.fc2 linear", "mlp.qact1"},
    {SwinPoint::kResidual2, "qact4", Scope::kBlock, QuantRole::kResidual, "add", "qact2, mlp.qact2"},
    {SwinPoint::kMergeNorm, "qact1", Scope::kMerge, QuantRole::kActivation, "2x2 concat + norm LayerNorm",
     "the stage's last qact4"},
    {SwinPoint::kMergeReduction, "qact2", Scope::kMerge, QuantRole::kResidual, "reduction linear", "qact1"},
    {SwinPoint::kFinalNorm, "qact2", Scope::kModel, QuantRole::kActivation, "norm LayerNorm",
     "the last block's qact4"},
    {SwinPoint::kPooled, "qact3", Scope::kModel, QuantRole::kActivation, "mean over tokens", "qact2"},
    {SwinPoint::kLogits, "act_out", Scope::kModel, QuantRole::kActivation, "head linear", "qact3"},
};

const PointEntry& point_entry(SwinPoint point) {
  for (const auto& e : kSwinPoints) {
    if (e.point == point) return e;
  }
  assert(false && "every SwinPoint has an entry");
  return kSwinPoints[0];
}

// Consumes `word` then digits then '.' at `at`; returns the position after, or npos.
size_t skip_indexed(const std::string& name, size_t at, const std::string& word) {
  if (at == std::string::npos || name.compare(at, word.size(), word) != 0) return std::string::npos;
  size_t i = at + word.size();
  const size_t digits = i;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  return i > digits && i < name.size() && name[i] == '.' ? i + 1 : std::string::npos;
}

}  // namespace

std::string swin_point_name(SwinPoint point, int stage, int block) {
  const PointEntry& e = point_entry(point);
  const std::string layer = "layers." + std::to_string(stage) + ".";
  switch (e.scope) {
    case Scope::kModel: return e.name;
    case Scope::kBlock:
      assert(stage >= 0 && block >= 0);
      return layer + "blocks." + std::to_string(block) + "." + e.name;
    case Scope::kMerge:
      assert(stage >= 0);
      return layer + "downsample." + e.name;
  }
  return {};
}

std::vector<QuantPoint> swin_points(const std::vector<int>& depths, bool quantize_input) {
  std::vector<QuantPoint> points;
  const auto add_scope = [&](Scope scope, int stage, int block) {
    for (const auto& e : kSwinPoints) {
      if (e.scope == scope) points.push_back({swin_point_name(e.point, stage, block), e.role, e.producer, e.inputs});
    }
  };
  for (const auto& e : kSwinPoints) {
    if (e.scope != Scope::kModel) continue;
    if (e.point == SwinPoint::kInput && !quantize_input) continue;
    if (e.point == SwinPoint::kFinalNorm) {  // the stages come between the stem and the final norm
      const int stages = static_cast<int>(depths.size());
      for (int s = 0; s < stages; ++s) {
        for (int b = 0; b < depths[static_cast<size_t>(s)]; ++b) add_scope(Scope::kBlock, s, b);
        if (s + 1 < stages) add_scope(Scope::kMerge, s, -1);
      }
    }
    points.push_back({e.name, e.role, e.producer, e.inputs});
  }
  return points;
}

bool parse_swin_point(const std::string& name, SwinPoint* point, int* stage, int* block) {
  const size_t layer = skip_indexed(name, 0, "layers.");
  const size_t in_block = skip_indexed(name, layer, "blocks.");
  const size_t merge = layer != std::string::npos && name.compare(layer, 11, "downsample.") == 0 ? layer + 11
                                                                                                 : std::string::npos;
  for (const auto& e : kSwinPoints) {
    const size_t at = e.scope == Scope::kModel ? 0 : e.scope == Scope::kBlock ? in_block : merge;
    if (at != std::string::npos && name.compare(at, std::string::npos, e.name) == 0) {
      *point = e.point;
      *stage = e.scope == Scope::kModel ? -1 : std::stoi(name.substr(7));  // "layers." is 7 characters
      *block = e.scope == Scope::kBlock ? std::stoi(name.substr(layer + 7)) : -1;  // after "blocks."
      return true;
    }
  }
  return false;
}

bool swin_point_role(const std::string& name, QuantRole* role) {
  SwinPoint point;
  int stage, block;
  if (!parse_swin_point(name, &point, &stage, &block)) return false;
  *role = point_entry(point).role;
  return true;
}

}  // namespace fqvit

// The quantized model file: round trip (same quantizers, bit-identical fake-quant logits) and refusal of files that
// are of another version, miss a quantizer, or whose tensors disagree with the metadata.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>

#include "fqvit/calibrate/calibrator.h"
#include "fqvit/calibrate/model_file.h"
#include "fqvit/core/error.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

constexpr int64_t kImages = 2;  // images of the golden input run through both models

std::string saved_file(const std::string& shared) {
  static std::string path;
  if (!path.empty()) return path;
  path = testing::scratch_dir("model_file") + "/vit_tiny_ptf_lis.safetensors";
  const QuantState state = load_reference_qparams(shared + "/reference/golden_vit_tiny_qparams.json");
  CalibrationInfo info;
  info.calib_dir = "reference";
  info.order = "list";
  info.images_requested = info.images_used = 1000;
  info.batch_size = 100;
  auto model = load_model(shared + "/models/vit_tiny_patch16_224");
  save_quantized_model(path, shared + "/models/vit_tiny_patch16_224", *model, state, info);
  return path;
}

// A quantized file of the committed small ViT (2 blocks), calibrated on its golden input: the refusal tests need no
// ../shared.
std::string small_saved_file() {
  static std::string path;
  if (!path.empty()) return path;
  const std::string dir = testing::source_dir() + "/tests/data/models/vit_small_random_committed";
  path = testing::scratch_dir("model_file_small") + "/vit_small_ptf_lis.safetensors";
  auto model = load_model(dir);
  Calibrator calib(*model, QuantSettings{});
  calib.observe(SafetensorsFile::open(dir + "/golden.safetensors").load_float("input"), true);
  const QuantState state = calib.finish();
  CalibrationInfo info;
  info.order = "test";
  save_quantized_model(path, dir, *model, state, info);
  return path;
}

// Copies `src` to `dst` through `edit` (tensors by name with raw bytes, and the metadata).
struct RawTensor {
  DType dtype;
  Shape shape;
  std::vector<std::byte> bytes;
};
void rewrite(const std::string& src, const std::string& dst,
             const std::function<void(std::map<std::string, RawTensor>&, std::map<std::string, std::string>&)>& edit) {
  const auto f = SafetensorsFile::open(src);
  std::map<std::string, RawTensor> tensors;
  for (const TensorInfo& t : f.tensors()) {
    const auto b = f.bytes(t.name);
    tensors[t.name] = {t.dtype, t.shape, std::vector<std::byte>(b.begin(), b.end())};
  }
  auto meta = f.metadata();
  edit(tensors, meta);
  SafetensorsWriter w;
  for (const auto& [name, t] : tensors) w.add_raw(name, t.dtype, t.shape, t.bytes);
  for (const auto& [k, v] : meta) w.set_metadata(k, v);
  w.write(dst);
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    read_quantized_model(path);
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ModelFile, RoundTripGivesIdenticalFakeQuantLogits) {
  FQVIT_REQUIRE_SHARED(shared);
  const std::string path = saved_file(shared);
  const auto golden = SafetensorsFile::open(shared + "/reference/golden_vit_tiny.safetensors");
  Tensor input = golden.load_float("input");
  Tensor x({kImages, input.dim(1), input.dim(2), input.dim(3)});
  std::memcpy(x.data(), input.data(), static_cast<size_t>(x.numel()) * sizeof(float));

  auto float_model = load_model(shared + "/models/vit_tiny_patch16_224");
  float_model->set_numerics(Numerics::kTorch);  // as load_fake_quant_model sets it by default
  FakeQuantModel direct(std::move(float_model),
                        load_reference_qparams(shared + "/reference/golden_vit_tiny_qparams.json"));
  const auto loaded = load_fake_quant_model(path);
  EXPECT_EQ(loaded->config().embed_dim, 192);
  const Tensor a = direct.forward(x), b = loaded->forward(x);
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  EXPECT_EQ(loaded->state().activations.size(), direct.state().activations.size());
  const auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f.info("blocks.0.attn.qkv.weight").dtype, DType::kI8);
  EXPECT_EQ(f.metadata().at("format"), kQuantFormatName);
}

TEST(ModelFile, RefusesOtherVersion) {
  const std::string bad = testing::scratch_dir("model_file_bad_version") + "/m.safetensors";
  rewrite(small_saved_file(), bad,
          [](auto&, auto& meta) { meta["format_version"] = std::to_string(kQuantFormatVersion + 1); });
  expect_error(bad, "format_version: found 3, expected 1 or 2");
}

TEST(ModelFile, RefusesUnknownRecordedNumerics) {
  const std::string bad = testing::scratch_dir("model_file_bad_numerics") + "/m.safetensors";
  rewrite(small_saved_file(), bad, [](auto&, auto& meta) {
    auto cal = nlohmann::json::parse(meta.at("calibration"));
    cal["numerics"] = "mkl";
    meta["calibration"] = cal.dump();
  });
  try {
    load_fake_quant_model(bad);
    ADD_FAILURE() << "no error for numerics \"mkl\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.safetensors: __metadata__.calibration.numerics: found \"mkl\", expected "
                                         "fast or torch"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(load_fake_quant_model(bad, Numerics::kFast));  // an explicit choice overrides the record
}

TEST(ModelFile, RefusesMissingQuantizer) {
  const std::string bad = testing::scratch_dir("model_file_missing") + "/m.safetensors";
  rewrite(small_saved_file(), bad, [](auto& tensors, auto& meta) {
    auto q = nlohmann::json::parse(meta.at("quantizers"));
    q["activations"].erase("blocks.1.attn.qact2");
    meta["quantizers"] = q.dump();
    tensors.erase("quant.blocks.1.attn.qact2.scale");
    tensors.erase("quant.blocks.1.attn.qact2.zero_point");
  });
  expect_error(bad, "blocks.1.attn.qact2: found no activation quantizer");
}

TEST(ModelFile, RefusesListedQuantizerWithoutTensors) {
  const std::string bad = testing::scratch_dir("model_file_no_tensor") + "/m.safetensors";
  rewrite(small_saved_file(), bad, [](auto& tensors, auto&) { tensors.erase("quant.blocks.1.qact4.alpha"); });
  expect_error(bad, "quant.blocks.1.qact4.alpha: found missing");
}

TEST(ModelFile, RefusesWeightShapeDisagreeingWithMetadata) {
  const std::string bad = testing::scratch_dir("model_file_shape") + "/m.safetensors";
  rewrite(small_saved_file(), bad, [](auto& tensors, auto&) {
    RawTensor& t = tensors.at("head.weight");
    t.shape = {t.shape[0] / 2, t.shape[1] * 2};
  });
  expect_error(bad, "head.weight.shape");
}

TEST(ModelFile, SmallModelRoundTripsAndLoadsCleanly) {
  const auto loaded = load_fake_quant_model(small_saved_file());
  EXPECT_EQ(loaded->config().embed_dim, 64);
  EXPECT_EQ(SafetensorsFile::open(small_saved_file()).info("blocks.1.mlp.fc2.weight").dtype, DType::kI8);
}

// JSON access of the metadata: a missing or mistyped key is an Error naming the file, the key's full path, what was
// found and what was expected (it was an internal json exception).
void edit_quantizers(const std::string& bad, const std::function<void(nlohmann::json&)>& edit) {
  rewrite(small_saved_file(), bad, [&](auto&, auto& meta) {
    auto q = nlohmann::json::parse(meta.at("quantizers"));
    edit(q);
    meta["quantizers"] = q.dump();
  });
}

TEST(ModelFile, MissingMetadataKeyNamesFileFieldAndExpectation) {
  const std::string bad = testing::scratch_dir("m") + "/m.safetensors";
  edit_quantizers(bad, [](nlohmann::json& q) { q["weights"]["head"].erase("bits"); });
  expect_error(bad, "m.safetensors: __metadata__.quantizers.weights.head.bits: found missing, expected an integer");
  edit_quantizers(bad, [](nlohmann::json& q) { q.erase("activations"); });
  expect_error(bad, "m.safetensors: __metadata__.quantizers.activations: found missing, expected a JSON object");
}

TEST(ModelFile, MistypedMetadataKeyNamesFileFieldAndFoundType) {
  const std::string bad = testing::scratch_dir("m") + "/m.safetensors";
  edit_quantizers(bad, [](nlohmann::json& q) { q["weights"]["head"]["bits"] = "eight"; });
  expect_error(bad, "m.safetensors: __metadata__.quantizers.weights.head.bits: found string, expected an integer");
  edit_quantizers(bad, [](nlohmann::json& q) { q["activations"]["blocks.0.qact1"]["fields"] = {"scale", 3}; });
  expect_error(bad, "__metadata__.quantizers.activations.blocks.0.qact1.fields[]: found number, expected a string");
  rewrite(small_saved_file(), bad, [](auto&, auto& meta) {
    auto cal = nlohmann::json::parse(meta.at("calibration"));
    cal["batch_size"] = "many";
    meta["calibration"] = cal.dump();
  });
  expect_error(bad, "__metadata__.calibration.batch_size: found string, expected an integer");
}

// The reader alone (no float graph) returns what the loader dequantizes: codes within the bit type, one scale per
// output channel, and every activation quantizer's record.
TEST(ModelFile, ReaderReturnsCodesScalesAndRecordsWithoutAGraph) {
  const QuantizedFile f = read_quantized_file(small_saved_file());
  const QuantizedModel m = read_quantized_model(small_saved_file());
  ASSERT_EQ(f.weights.size(), m.state.weights.size());
  ASSERT_EQ(f.activations.size(), m.state.activations.size());
  for (const auto& [name, w] : f.weights) {
    EXPECT_EQ(w.scales, m.state.weights.at(name).scales) << name;
    EXPECT_EQ(static_cast<int64_t>(w.codes.size()), shape_numel(w.shape)) << name;
  }
  for (const auto& [name, r] : f.activations) EXPECT_EQ(r.kind, m.state.activations.at(name)->kind()) << name;
  EXPECT_NE(f.model_config.find("\"embed_dim\""), std::string::npos);
  EXPECT_FALSE(f.float_tensors.empty());
}

}  // namespace
}  // namespace fqvit

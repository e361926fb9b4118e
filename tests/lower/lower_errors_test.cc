// Quantized files the integer kernels cannot run are refused at load time with one line naming the file, the field,
// the value found and the value expected (issue 10 item 8): never a wrong answer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "fqvit/calibrate/model_file.h"
#include "fqvit/calibrate/quantizer.h"
#include "fqvit/core/error.h"
#include "fqvit/lower/lower.h"
#include "fqvit/model/swin_window.h"
#include "int_exec/int_test_support.h"

namespace fqvit {
namespace {

// A quantizer kind the executor does not know (registered, so the file reader accepts it).
class CustomQuantizer final : public ActivationQuantizer {
 public:
  std::string kind() const override { return "test_custom"; }
  BitType bit_type() const override { return kUint8; }
  void fake_quant(float*, int64_t, int64_t) const override {}
  std::vector<float> channel_scales() const override { return {1.0f}; }
  QuantizerRecord record() const override { return {"test_custom", kUint8, {{"scale", {1.0f}}}, {}}; }
  std::string summary() const override { return "custom"; }
};

// Calibrates a demo model, replaces the quantizer at `point`, writes the file and returns the lowering's error.
std::string lowering_error(const std::string& tag, const std::string& point,
                           std::unique_ptr<ActivationQuantizer> replacement, const std::string& demo = "vit_micro",
                           const std::string& config = "fqvit_w8a8attn4") {
  const std::string source = testing::calibrate_demo(demo, config);
  QuantizedModel q = read_quantized_model(source);
  q.state.activations[point] = std::move(replacement);
  const std::string dir = testing::source_dir() + "/demo/models/" + demo;
  const std::string path = testing::scratch_dir("lower_errors_" + tag) + "/bad.safetensors";
  auto model = load_model(dir);
  save_quantized_model(path, dir, *model, q.state, q.calibration);
  try {
    lower_quantized_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_line(const std::string& message, const std::vector<std::string>& parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("bad.safetensors: "), std::string::npos) << message;
  for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' in: " << message;
}

TEST(LowerErrors, MultiplierOutOfRange) {
  // An output scale of 1e30 makes blocks.0.attn.proj's s_in s_w / s_out far below 2^-32.
  expect_line(lowering_error("multiplier", "blocks.0.attn.qact3",
                             std::make_unique<UniformQuantizer>(QParams{1e30f, 128}, kUint8)),
              {"blocks.0.attn.proj requantization multiplier", "found ", "expected a multiplier within 2^-32 .. 2^30"});
}

TEST(LowerErrors, SignedActivationBits) {
  expect_line(lowering_error("signed", "blocks.0.attn.qact2",
                             std::make_unique<UniformQuantizer>(QParams{0.05f, 0}, kInt8)),
              {"quantizers.activations.blocks.0.attn.qact2.bits", "found int8", "expected uint2..uint8"});
}

TEST(LowerErrors, LogIntSoftmaxWiderThanFourBits) {
  expect_line(lowering_error("lis8", "blocks.0.attn.log_int_softmax",
                             std::make_unique<LisQuantizer>(LisParams{8, 20})),
              {"quantizers.activations.blocks.0.attn.log_int_softmax.bits", "found 8", "expected 2..4"});
}

TEST(LowerErrors, UnknownQuantizerKind) {
  register_quantizer("test_custom", [](const QuantizerRecord&, const std::string&) {
    return std::unique_ptr<ActivationQuantizer>(std::make_unique<CustomQuantizer>());
  });
  expect_line(lowering_error("kind", "blocks.0.mlp.qact2", std::make_unique<CustomQuantizer>()),
              {"quantizers.activations.blocks.0.mlp.qact2.kind", "found test_custom", "expected uniform, ptf or lis"});
}

TEST(LowerErrors, ZeroPointOutsideTheCodeRange) {
  expect_line(lowering_error("zp8", "blocks.0.attn.qact2", std::make_unique<UniformQuantizer>(QParams{0.05f, 300}, kUint8)),
              {"quantizers.activations.blocks.0.attn.qact2.zero_point", "found 300", "expected within [0, 255] of uint8"});
  expect_line(lowering_error("zp6", "blocks.1.attn.qact3",
                             std::make_unique<UniformQuantizer>(QParams{0.05f, 70}, BitType{6, false})),
              {"quantizers.activations.blocks.1.attn.qact3.zero_point", "found 70", "expected within [0, 63] of uint6"});
}

TEST(LowerErrors, ActivationCodesWiderThanEightBits) {
  // 16-bit codes are a valid file (the wide residual stream of fqvit_plus); the uint8 kernels do not hold them.
  expect_line(lowering_error("bits16", "blocks.0.mlp.qact1",
                             std::make_unique<UniformQuantizer>(QParams{0.001f, 1000}, BitType{16, false})),
              {"quantizers.activations.blocks.0.mlp.qact1.bits", "found uint16", "expected uint2..uint8"});
}

TEST(LowerErrors, PtfFactorsForAnotherChannelCount) {
  PtfParams p;
  p.scale1 = 0.01f, p.zero_point = 100, p.alpha = {0, 1, 2};
  expect_line(lowering_error("alpha", "blocks.0.qact2", std::make_unique<PtfQuantizer>(p)),
              {"quantizers.activations.blocks.0.qact2.alpha", "found 3 channels", "expected 1 or 64"});
}

// One tensor of a file as copied by `rewritten`: the edit may change any part, or drop it.
struct TensorCopy {
  std::string name;
  DType dtype;
  Shape shape;
  std::vector<std::byte> bytes;
};

// Copies the calibrated demo file, tensor by tensor through `edit` (false drops the tensor) and its
// __metadata__.quantizers JSON through `quantizers`, and returns the lowering's error.
std::string rewritten_error(const std::string& tag, const std::function<bool(TensorCopy&)>& edit,
                            const std::function<void(nlohmann::json&)>& quantizers = {}) {
  const std::string source = testing::calibrate_demo("vit_micro", "fqvit_w8a8attn4");
  const std::string path = testing::scratch_dir("lower_errors_" + tag) + "/bad.safetensors";
  {
    const SafetensorsFile in = SafetensorsFile::open(source);
    SafetensorsWriter out;
    for (const TensorInfo& t : in.tensors()) {
      const auto b = in.bytes(t.name);
      TensorCopy c{t.name, t.dtype, t.shape, {b.begin(), b.end()}};
      if (edit(c)) out.add_raw(c.name, c.dtype, c.shape, c.bytes);
    }
    for (const auto& [key, value] : in.metadata()) {
      if (key == "quantizers" && quantizers) {
        nlohmann::json j = nlohmann::json::parse(value);
        quantizers(j);
        out.set_metadata(key, j.dump());
      } else {
        out.set_metadata(key, value);
      }
    }
    out.write(path);
  }
  try {
    lower_quantized_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LowerErrors, MissingFloatTensor) {
  expect_line(rewritten_error("no_norm_bias", [](TensorCopy& t) { return t.name != "blocks.1.norm2.bias"; }),
              {"blocks.1.norm2.bias: found missing", "expected a float tensor [64]"});
  expect_line(rewritten_error("no_linear_bias", [](TensorCopy& t) { return t.name != "blocks.0.attn.proj.bias"; }),
              {"blocks.0.attn.proj.bias: found missing", "expected a float tensor [64]"});
}

TEST(LowerErrors, MissingQuantizer) {
  const std::string point = "blocks.0.attn.qact1";
  expect_line(rewritten_error("no_quantizer",
                              [&](TensorCopy& t) { return t.name.rfind("quant." + point + ".", 0) != 0; },
                              [&](nlohmann::json& q) { q["activations"].erase(point); }),
              {"quantizers.activations." + point + ": found missing", "expected a quantizer at every point"});
}

TEST(LowerErrors, CodeTensorOfAnotherDtype) {
  expect_line(rewritten_error("codes_u8",
                              [](TensorCopy& t) {
                                if (t.name == "blocks.0.attn.qkv.weight") t.dtype = DType::kU8;
                                return true;
                              }),
              {"blocks.0.attn.qkv.weight.dtype: found U8", "expected I8"});
}

TEST(LowerErrors, CodeTensorOfAnotherShape) {
  // Codes of another shape, the metadata agreeing: transposed, the per-output-channel scales no longer fit (the
  // reader); reshaped with the same output channels, the file reads and the lowering finds the layer's shape wrong.
  const std::string tensor = "blocks.1.mlp.fc2.weight";
  auto reshaped = [&](const Shape& shape) {
    return rewritten_error("codes_shape",
                           [&](TensorCopy& t) {
                             if (t.name == tensor) t.shape = shape;
                             return true;
                           },
                           [&](nlohmann::json& q) { q["weights"]["blocks.1.mlp.fc2"]["shape"] = shape; });
  };
  expect_line(reshaped({256, 64}), {tensor + "_scale.shape: found [64]", "expected [256]"});
  expect_line(reshaped({64, 128, 2}), {tensor + ".shape: found [64, 128, 2]", "expected [64, 256]"});
}

TEST(LowerErrors, WeightBitsOutOfRange) {
  expect_line(rewritten_error("weight_bits", [](TensorCopy&) { return true; },
                              [](nlohmann::json& q) { q["weights"]["blocks.0.mlp.fc1"]["bits"] = 9; }),
              {"blocks.0.mlp.fc1.bits", "found 9", "expected 2..8"});
}

TEST(LowerErrors, NonFiniteFloatTensor) {
  expect_line(rewritten_error("nan_gamma",
                              [](TensorCopy& t) {
                                if (t.name == "norm.weight") {
                                  const float nan = std::numeric_limits<float>::quiet_NaN();
                                  std::memcpy(t.bytes.data() + 4 * 5, &nan, 4);
                                }
                                return true;
                              }),
              {"norm.weight: found value nan at flat index 5", "expected finite numbers"});
}

TEST(LowerErrors, WeightScaleNotPositive) {
  expect_line(rewritten_error("negative_scale",
                              [](TensorCopy& t) {
                                if (t.name == "blocks.0.attn.qkv.weight_scale") {
                                  const float v = -0.01f;
                                  std::memcpy(t.bytes.data() + 4 * 2, &v, 4);
                                }
                                return true;
                              }),
              {"blocks.0.attn.qkv.weight_scale: found scale -0.00999999978 for output channel 2",
               "expected finite and positive"});
}

// Swin: what only its lowering reads. The Log-Int-Softmax of a shifted block wider than the kernels run, a signed
// code for the relative position bias table, a per-channel (PTF) quantizer where the bias add needs one scale.
TEST(LowerErrorsSwin, LogIntSoftmaxWiderThanFourBits) {
  expect_line(lowering_error("swin_lis8", "layers.0.blocks.1.attn.log_int_softmax",
                             std::make_unique<LisQuantizer>(LisParams{8, 20}), "swin_micro"),
              {"quantizers.activations.layers.0.blocks.1.attn.log_int_softmax.bits", "found 8", "expected 2..4"});
}

TEST(LowerErrorsSwin, SignedBiasTableCodes) {
  expect_line(lowering_error("swin_signed_table", "layers.1.blocks.0.attn.qact_table",
                             std::make_unique<UniformQuantizer>(QParams{0.01f, 0}, kInt8), "swin_micro"),
              {"quantizers.activations.layers.1.blocks.0.attn.qact_table.bits", "found int8", "expected uint2..uint8"});
}

TEST(LowerErrorsSwin, PerChannelBiasTableQuantizer) {
  PtfParams ptf;
  ptf.scale1 = 0.01f, ptf.zero_point = 128, ptf.alpha = {0, 1};  // one factor per head of stage 0
  expect_line(lowering_error("swin_ptf_table", "layers.0.blocks.0.attn.qact_table",
                             std::make_unique<PtfQuantizer>(ptf), "swin_micro"),
              {"quantizers.activations.layers.0.blocks.0.attn.qact_table", "found per-channel",
               "expected a per-tensor quantizer"});
}

// A window that does not divide a stage's grid, written into the file's stored config: refused when the file is
// read (the stage geometry the lowering builds its index maps from), one line naming the field and both values.
TEST(LowerErrorsSwin, WindowThatDoesNotDivideTheGrid) {
  const std::string source = testing::calibrate_demo("swin_micro", "fqvit_w8a8attn4");
  const std::string path = testing::scratch_dir("lower_errors_swin_window") + "/bad.safetensors";
  {
    std::ifstream in(source, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_len));
    nlohmann::json config = nlohmann::json::parse(header["__metadata__"]["model_config"].get<std::string>());
    ASSERT_EQ(config["model_args"]["window_size"], 4);
    config["model_args"]["window_size"] = 3;
    header["__metadata__"]["model_config"] = config.dump();
    const std::string text = header.dump();
    const uint64_t len = text.size();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << text << bytes.substr(8 + header_len);
  }
  try {
    lower_quantized_model(path);
    FAIL() << "a window of 3 on a 16 x 16 grid lowered";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find("bad.safetensors"), std::string::npos) << m;
    for (const char* part : {"window_size", "found 3 on the 16x16 grid of stage 0", "expected a window dividing"}) {
      EXPECT_NE(m.find(part), std::string::npos) << "'" << part << "' in: " << m;
    }
  }
}

// An official checkpoint's buffers (relative_position_index of every block, attn_mask of shifted ones) travel into
// the quantized file; the lowering checks them against the maps it builds, as the float loader does. The micro Swin
// (16 x 16 grid, window 4, shift 2) written back with buffers added: the right ones lower, a wrong one is refused.
using Buffers = std::map<std::string, std::pair<std::string, std::vector<std::byte>>>;  // name -> (dtype, bytes)
std::string with_buffers(const std::string& source, const std::string& tag, const Buffers& add,
                         const std::map<std::string, Shape>& shapes) {
  const std::string path = testing::scratch_dir("lower_errors_" + tag) + "/bad.safetensors";
  std::ifstream in(source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_len));
  std::string data = bytes.substr(8 + header_len);
  for (const auto& [name, value] : add) {
    const auto& [dtype, raw] = value;
    header[name] = {{"dtype", dtype}, {"shape", shapes.at(name)}, {"data_offsets", {data.size(), data.size() + raw.size()}}};
    data.append(reinterpret_cast<const char*>(raw.data()), raw.size());
  }
  const std::string text = header.dump();
  const uint64_t len = text.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << text << data;
  return path;
}

template <typename T>
std::vector<std::byte> raw_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::string lowering_message(const std::string& path) {
  try {
    lower_quantized_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LowerErrorsSwin, OfficialBuffersCheckedAgainstTheBuiltMaps) {
  const std::vector<int32_t> index32 = relative_position_index(4);
  const std::vector<int64_t> index(index32.begin(), index32.end());
  const std::vector<float> mask = shifted_window_mask(16, 16, 4, 2);
  const std::string idx0 = "layers.0.blocks.0.attn.relative_position_index",
                    idx1 = "layers.0.blocks.1.attn.relative_position_index", mask1 = "layers.0.blocks.1.attn_mask",
                    mask0 = "layers.0.blocks.0.attn_mask";
  const std::map<std::string, Shape> shapes{{idx0, {16, 16}}, {idx1, {16, 16}}, {mask1, {16, 16, 16}},
                                            {mask0, {16, 16, 16}}};
  const std::string source = testing::calibrate_demo("swin_micro", "fqvit_w8a8attn4");
  // The official buffers: the file lowers.
  EXPECT_EQ(lowering_message(with_buffers(source, "swin_buffers_ok", {{idx0, {"I64", raw_bytes(index)}},
                                                              {idx1, {"I64", raw_bytes(index)}},
                                                              {mask1, {"F32", raw_bytes(mask)}}},
                                          shapes)),
            "(no error)");
  std::vector<int64_t> wrong_index = index;
  wrong_index[5] += 1;
  expect_line(lowering_message(with_buffers(source, "swin_buffers_index", {{idx1, {"I64", raw_bytes(wrong_index)}}}, shapes)),
              {idx1 + "[5]", "found " + std::to_string(index[5] + 1),
               "expected " + std::to_string(index[5]) + " (the official relative position index)"});
  std::vector<float> wrong_mask = mask;
  const auto masked_at = static_cast<size_t>(std::find(mask.begin(), mask.end(), kSwinMaskValue) - mask.begin());
  wrong_mask[masked_at] = 0.0f;
  expect_line(lowering_message(with_buffers(source, "swin_buffers_mask", {{mask1, {"F32", raw_bytes(wrong_mask)}}}, shapes)),
              {mask1 + "[" + std::to_string(masked_at) + "]", "found 0.0", "(the official shifted-window mask)"});
  expect_line(lowering_message(with_buffers(source, "swin_buffers_unshifted", {{mask0, {"F32", raw_bytes(mask)}}}, shapes)),
              {mask0, "found present", "expected no attention mask (the block is not shifted)"});
}

// Swin under fqvit_plus lowers (tests/int_exec), but what its kernels still do not run is refused: a per-channel
// quantizer on the average pool's input (the final LayerNorm's output, per tensor in every preset) and wide codes on a
// branch output (only the residual stream holds 16-bit codes).
TEST(LowerErrorsSwin, PlusPerChannelPoolInput) {
  PtfParams ptf;
  ptf.scale1 = 0.01f, ptf.zero_point = 128, ptf.alpha.assign(96, 1);  // the last stage's 96 channels
  expect_line(lowering_error("swin_plus_pool", "qact2", std::make_unique<PtfQuantizer>(ptf), "swin_micro",
                             "fqvit_plus"),
              {"quantizers.activations.qact2", "found per-channel", "expected a per-tensor quantizer (the pool's input)"});
}

TEST(LowerErrorsSwin, PlusWideBranchOutput) {
  expect_line(lowering_error("swin_plus_wide_proj", "layers.0.blocks.1.attn.qact4",
                             std::make_unique<UniformQuantizer>(QParams{0.001f, 32768}, BitType{16, false}),
                             "swin_micro", "fqvit_plus"),
              {"quantizers.activations.layers.0.blocks.1.attn.qact4.bits", "found uint16", "expected uint2..uint8"});
}

}  // namespace
}  // namespace fqvit

// fqvit-eval's integer engine through the CLI: the default for a quantized file, --print-plan, and its refusals
// (one line, exit status 1, no output file).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "cli_runner.h"
#include "fqvit/io/safetensors.h"
#include "test_paths.h"

namespace fqvit {
namespace {

using testing::run_cli;

std::string calibrate(const std::string& model, const std::string& dir) {
  const std::string src = testing::source_dir();
  const std::string out = dir + "/" + model + ".safetensors";
  const auto r = run_cli("fqvit-calibrate", "--model " + src + "/demo/models/" + model + " --calib " + src +
                                                "/demo/data/calib --class-list " + src +
                                                "/demo/data/classes.txt --images 100 --batch 50 --out " + out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

TEST(IntEngineCli, DefaultForQuantizedFilesAndPrintPlan) {
  const std::string dir = testing::scratch_dir("int_engine_cli");
  const std::string src = testing::source_dir();
  const std::string file = calibrate("vit_micro", dir);
  const auto plan = run_cli("fqvit-eval", "--model " + file + " --print-plan");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("integer plan, 40 ops"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("attention    T=65 heads 4 x 16"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("% of the FP32 model's "), std::string::npos) << plan.output;  // resident bytes
  const auto eval = run_cli("fqvit-eval", "--model " + file + " --data " + src + "/demo/data/val --class-list " + src +
                                              "/demo/data/classes.txt --limit 50 --json " + dir + "/r.json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("engine int"), std::string::npos) << eval.output;

  // Swin: shifted windows as index maps, the bias / mask inside the window attention, merging and the pool.
  const std::string swin = calibrate("swin_micro", dir);
  const auto swin_plan = run_cli("fqvit-eval", "--model " + swin + " --print-plan");
  ASSERT_EQ(swin_plan.exit_code, 0) << swin_plan.output;
  for (const char* line : {"integer plan, 73 ops", "gather       256 x 24 -> 256 x 24 (token index map)",
                           "win_attn     16 windows x N=16 heads 2 x 12", "shift mask",
                           "gather       256 x 24 -> 64 x 96 (2x2 neighbours concatenated)", "token_mean   16 x 96"}) {
    EXPECT_NE(swin_plan.output.find(line), std::string::npos) << line << "\n" << swin_plan.output;
  }
  const auto swin_eval = run_cli("fqvit-eval", "--model " + swin + " --data " + src + "/demo/data/val --class-list " +
                                                   src + "/demo/data/classes.txt --limit 50");
  ASSERT_EQ(swin_eval.exit_code, 0) << swin_eval.output;
  EXPECT_NE(swin_eval.output.find("engine int"), std::string::npos) << swin_eval.output;
}

TEST(IntEngineCli, RefusalsAreOneLineWithoutOutput) {
  const std::string dir = testing::scratch_dir("int_engine_cli_refusals");
  const std::string src = testing::source_dir();
  const std::string data = " --data " + src + "/demo/data/val --class-list " + src + "/demo/data/classes.txt";
  const std::string vit = calibrate("vit_micro", dir);
  // The ViT file with a NaN in a LayerNorm gamma and without one linear's bias: the lowering names each.
  auto copy_with = [&](const std::string& name, auto edit) {
    const SafetensorsFile in = SafetensorsFile::open(vit);
    SafetensorsWriter out;
    for (const TensorInfo& t : in.tensors()) {
      const auto b = in.bytes(t.name);
      std::vector<std::byte> bytes(b.begin(), b.end());
      if (edit(t.name, bytes)) out.add_raw(t.name, t.dtype, t.shape, bytes);
    }
    for (const auto& [key, value] : in.metadata()) out.set_metadata(key, value);
    out.write(dir + "/" + name);
    return dir + "/" + name;
  };
  const std::string nan_gamma = copy_with("nan_gamma.safetensors", [](const std::string& n, std::vector<std::byte>& b) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    if (n == "blocks.2.norm1.weight") std::memcpy(b.data(), &nan, 4);
    return true;
  });
  const std::string no_bias = copy_with("no_bias.safetensors", [](const std::string& n, std::vector<std::byte>&) {
    return n != "blocks.3.mlp.fc1.bias";
  });
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--model " + src + "/demo/models/vit_micro --engine int" + data, "--model: found a float checkpoint directory"},
      {"--model " + vit + " --engine int --numerics torch" + data, "--numerics: found torch"},
      {"--model " + vit + " --engine fake --print-plan" + data, "--print-plan: found --engine fake"},
      {"--model " + nan_gamma + data, "blocks.2.norm1.weight: found value nan at flat index 0, expected finite"},
      {"--model " + no_bias + data, "blocks.3.mlp.fc1.bias: found missing, expected a float tensor [256]"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli("fqvit-eval", c.args + " --json " + dir + "/out.json");
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/out.json")) << c.args;
  }
}

}  // namespace
}  // namespace fqvit

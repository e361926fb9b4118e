// GOP/s of the integer GEMM (uint8 x int8 -> requantized uint8, include/fqvit/kernels/gemm.h) on every GEMM shape
// of ViT-Tiny, DeiT-S and Swin-T at batch 1 and 8, one core, for each path this CPU has (ref, AVX-512 VNNI, AMX)
// and for oneDNN's u8 x s8 -> s32 matmul followed by our requantization pass (the executor's alternative), against
// the measured per-core int8 peaks (bench/isa_peak.h). GOP/s counts 2 ops per multiply-add. Prints figures;
// asserts nothing, except that every path's output equals the reference's (a wrong fast kernel is not fast).
//
//   fqvit-bench-gemm [--seconds S] [--filter SUBSTRING] [--no-ref] [--json OUT]
//
// Times are the fastest of repeated runs (best_seconds).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "best_seconds.h"
#include "fqvit/core/error.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/kernels/gemm.h"
#include "isa_peak.h"

namespace {

using fqvit::GemmIsa;

struct Shape {
  std::string name;
  int64_t m, n, k;
};

// Rows: tokens x batch (ViT / DeiT: 197 tokens; Swin-T: 3136 / 784 / 196 / 49 tokens per stage).
std::vector<Shape> model_shapes() {
  std::vector<Shape> shapes;
  for (int64_t batch : {1, 8}) {
    const std::string b = " b" + std::to_string(batch);
    const int64_t t = 197 * batch;
    for (auto [model, d] : {std::pair{"vit_tiny", int64_t{192}}, std::pair{"deit_s", int64_t{384}}}) {
      const std::string p = std::string(model) + " ";
      shapes.push_back({p + "patch" + b, 196 * batch, d, 768});
      shapes.push_back({p + "qkv" + b, t, 3 * d, d});
      shapes.push_back({p + "proj" + b, t, d, d});
      shapes.push_back({p + "fc1" + b, t, 4 * d, d});
      shapes.push_back({p + "fc2" + b, t, d, 4 * d});
      shapes.push_back({p + "head" + b, batch, 1000, d});
    }
    const int64_t tokens[] = {3136, 784, 196, 49};
    for (int s = 0; s < 4; ++s) {
      const int64_t c = int64_t{96} << s, r = tokens[s] * batch;
      const std::string p = "swin_t s" + std::to_string(s + 1) + " ";
      if (s == 0) shapes.push_back({p + "patch" + b, r, c, 48});
      shapes.push_back({p + "qkv" + b, r, 3 * c, c});
      shapes.push_back({p + "proj" + b, r, c, c});
      shapes.push_back({p + "fc1" + b, r, 4 * c, c});
      shapes.push_back({p + "fc2" + b, r, c, 4 * c});
      if (s < 3) shapes.push_back({p + "merge" + b, r / 4, 2 * c, 4 * c});
    }
    shapes.push_back({"swin_t head" + b, batch, 1000, 768});
  }
  return shapes;
}

using fqvit::bench::best_seconds;

struct Problem {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<fqvit::FixedMultiplier> multiplier;
  fqvit::RequantParams rq;
};

Problem make_problem(const Shape& s) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127), b(-4096, 4096);
  Problem p;
  p.a.resize(static_cast<size_t>(s.m * s.k));
  p.w.resize(static_cast<size_t>(s.n * s.k));
  p.bias.resize(static_cast<size_t>(s.n));
  for (auto& v : p.a) v = static_cast<uint8_t>(u8(rng));
  for (auto& v : p.w) v = static_cast<int8_t>(s8(rng));
  for (auto& v : p.bias) v = b(rng);
  p.multiplier.assign(static_cast<size_t>(s.n), fqvit::FixedMultiplier{1 << 30, -12});
  p.rq = {p.multiplier.data(), 128, 0, 255};
  return p;
}

// oneDNN's int8 matmul (weights reordered once into its blocked layout), int32 out, then our requantization pass
// (requantize_u8, AVX-512 when the CPU has it).
class OneDnnGemm {
 public:
  OneDnnGemm(const Shape& s, const Problem& p) : shape_(s), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    using dnnl::memory;
    const memory::desc a_md({s.m, s.k}, memory::data_type::u8, memory::format_tag::ab);
    const memory::desc w_any({s.k, s.n}, memory::data_type::s8, memory::format_tag::any);
    const memory::desc w_plain({s.k, s.n}, memory::data_type::s8, memory::format_tag::ba);  // [n][k] rows
    const memory::desc c_md({s.m, s.n}, memory::data_type::s32, memory::format_tag::ab);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, c_md), engine_);
    impl_ = pd.impl_info_str();
    matmul_ = dnnl::matmul(pd);
    memory w_src(w_plain, engine_, const_cast<int8_t*>(p.w.data()));
    w_ = memory(pd.weights_desc(), engine_);
    dnnl::reorder(w_src, w_).execute(stream_, w_src, w_);
    c_.resize(static_cast<size_t>(s.m * s.n));
    a_mem_ = memory(a_md, engine_, const_cast<uint8_t*>(p.a.data()));
    c_mem_ = memory(c_md, engine_, c_.data());
  }
  void run(const Problem& p, uint8_t* out) {
    matmul_.execute(stream_, {{DNNL_ARG_SRC, a_mem_}, {DNNL_ARG_WEIGHTS, w_}, {DNNL_ARG_DST, c_mem_}});
    stream_.wait();
    fqvit::requantize_u8(shape_.m, shape_.n, c_.data(), shape_.n, p.bias.data(), p.rq, out, shape_.n);
  }
  void run_s32_only() {
    matmul_.execute(stream_, {{DNNL_ARG_SRC, a_mem_}, {DNNL_ARG_WEIGHTS, w_}, {DNNL_ARG_DST, c_mem_}});
    stream_.wait();
  }
  const std::string& impl() const { return impl_; }

 private:
  Shape shape_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::matmul matmul_;
  dnnl::memory w_, a_mem_, c_mem_;
  std::vector<int32_t> c_;
  std::string impl_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GOP/s of the integer GEMM per shape and path, against the measured int8 peak"};
  double seconds = 0.3;
  std::string filter;
  bool no_ref = false;
  std::string json_path;
  app.add_option("--seconds", seconds, "measuring time per shape and path");
  app.add_option("--filter", filter, "only shapes whose name contains this");
  app.add_flag("--no-ref", no_ref, "skip the plain reference path (slow)");
  app.add_option("--json", json_path, "also write the figures here (GOP/s per shape and path, the peaks)");
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(1);  // one core: the kernels are single-threaded, the executor splits rows

  const double vnni_peak = fqvit::bench::vnni_peak_ops_per_second();
  const double amx_peak = fqvit::bench::amx_peak_ops_per_second();
  std::printf("measured int8 peak per core: AVX-512 VNNI %.0f GOP/s, AMX %s\n", vnni_peak / 1e9,
              amx_peak > 0 ? (std::to_string(static_cast<int>(amx_peak / 1e9)) + " GOP/s").c_str()
                           : "not available on this CPU");
  std::vector<GemmIsa> paths;
  for (GemmIsa isa : {GemmIsa::kRef, GemmIsa::kAvx512Vnni, GemmIsa::kAmx}) {
    if (fqvit::gemm_isa_supported(isa) && !(no_ref && isa == GemmIsa::kRef)) paths.push_back(isa);
  }
  const double peak = amx_peak > 0 ? amx_peak : vnni_peak;
  std::printf("GOP/s, 1 thread, requantized uint8 output; %% of the %s peak in brackets\n",
              amx_peak > 0 ? "AMX" : "VNNI");
  std::printf("%-24s %6s %5s %5s", "shape", "M", "N", "K");
  for (GemmIsa isa : paths) std::printf(" %16s", fqvit::gemm_isa_name(isa));
  std::printf(" %10s %16s %12s  %s\n", "ours s32", "onednn+requant", "onednn s32", "onednn impl");

  nlohmann::json report = {{"threads", 1},
                            {"ops_per_multiply_add", 2},
                            {"vnni_peak_gops", vnni_peak / 1e9},
                            {"amx_peak_gops", amx_peak > 0 ? nlohmann::json(amx_peak / 1e9) : nlohmann::json()},
                            {"shapes", nlohmann::json::array()}};
  bool all_exact = true;
  for (const Shape& s : model_shapes()) {
    if (!filter.empty() && s.name.find(filter) == std::string::npos) continue;
    const Problem p = make_problem(s);
    const double ops = 2.0 * static_cast<double>(s.m * s.n * s.k);
    std::vector<uint8_t> want(static_cast<size_t>(s.m * s.n)), got(want.size());
    fqvit::gemm_u8s8_requant_u8_ref(s.m, s.n, s.k, p.a.data(), s.k, p.w.data(), p.bias.data(), p.rq, want.data(),
                                    s.n);
    nlohmann::json row = {{"shape", s.name}, {"m", s.m}, {"n", s.n}, {"k", s.k}, {"gops", nlohmann::json::object()}};
    std::printf("%-24s %6lld %5lld %5lld", s.name.c_str(), static_cast<long long>(s.m),
                static_cast<long long>(s.n), static_cast<long long>(s.k));
    for (GemmIsa isa : paths) {
      fqvit::force_gemm_isa(isa);
      const fqvit::PackedWeights w(p.w.data(), s.n, s.k);
      const double t = best_seconds(
          [&] { fqvit::gemm_u8s8_requant_u8(w, s.m, p.a.data(), s.k, p.bias.data(), p.rq, got.data(), s.n); },
          isa == GemmIsa::kRef ? std::min(seconds, 0.05) : seconds);
      const bool exact = got == want;
      all_exact = all_exact && exact;
      std::printf(" %9.1f (%3.0f%%)%s", ops / t / 1e9, 100 * ops / t / peak, exact ? "" : "!");
      row["gops"][fqvit::gemm_isa_name(isa)] = ops / t / 1e9;
    }
    // Our fastest path's int32 form (no requantization), beside oneDNN's int32 matmul.
    {
      fqvit::force_gemm_isa(paths.back());
      const fqvit::PackedWeights w(p.w.data(), s.n, s.k);
      std::vector<int32_t> c(static_cast<size_t>(s.m * s.n));
      const double t = best_seconds(
          [&] { fqvit::gemm_u8s8s32(w, s.m, p.a.data(), s.k, p.bias.data(), c.data(), s.n); }, seconds);
      std::printf(" %10.1f", ops / t / 1e9);
      row["gops"][std::string(fqvit::gemm_isa_name(paths.back())) + "_s32"] = ops / t / 1e9;
    }
    OneDnnGemm onednn(s, p);
    const double t = best_seconds([&] { onednn.run(p, got.data()); }, seconds);
    const double t32 = best_seconds([&] { onednn.run_s32_only(); }, seconds);
    const bool exact = got == want;
    all_exact = all_exact && exact;
    std::printf(" %9.1f (%3.0f%%)%s %12.1f  %s\n", ops / t / 1e9, 100 * ops / t / peak, exact ? "" : "!",
                ops / t32 / 1e9, onednn.impl().c_str());
    row["gops"]["onednn_requant"] = ops / t / 1e9;
    row["gops"]["onednn_s32"] = ops / t32 / 1e9;
    row["onednn_impl"] = onednn.impl();
    report["shapes"].push_back(row);
    std::fflush(stdout);
  }
  report["all_exact"] = all_exact;
  if (!json_path.empty()) {
    try {
      fqvit::write_file_atomically(json_path, [&](std::ostream& out) { out << report.dump(2) << "\n"; });
    } catch (const fqvit::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
  }
  std::printf(all_exact ? "every path's output equals the reference's\n"
                        : "MISMATCH: a path marked ! differs from the reference\n");
  return all_exact ? 0 : 1;
}

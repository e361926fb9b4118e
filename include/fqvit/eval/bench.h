// Throughput of one engine on synthetic input (what fqvit-bench measures): the model alone, no decoding, no
// preprocessing. Warm-up passes first (first-call allocations, oneDNN primitive creation, page faults), then timed
// passes; the median pass is reported, so one descheduled pass on a shared machine does not move the figure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fqvit/core/tensor.h"
#include "fqvit/eval/engine.h"
#include "fqvit/io/model_config.h"

namespace fqvit {

struct BenchOptions {
  int batch = 8;
  double seconds = 3.0;         // timed passes run at least this long ...
  int min_passes = 5;           // ... and at least this many times
  double warmup_seconds = 0.5;  // warm-up runs at least this long ...
  int warmup_passes = 2;        // ... and at least this many passes
};

struct BenchResult {
  int batch = 0;
  int passes = 0;                 // timed forward passes
  double median_ms = 0;           // latency of one batch, median pass
  double min_ms = 0, max_ms = 0;  // fastest / slowest timed pass
  double images_per_second() const { return median_ms > 0 ? 1000.0 * batch / median_ms : 0; }
};

// Synthetic input from a fixed seed. The speed of every engine here is independent of the values (no data-dependent
// branches), so any input of the right shape measures it.
// Normalized float images [batch, in_chans, img_size, img_size], normal(0, 1): the float engines' input.
Tensor synthetic_images(const ModelConfig& config, int batch);
// uint8 pixels [batch][in_chans][img_size][img_size], uniform over 0..255: the integer engine's input.
std::vector<uint8_t> synthetic_pixels(const ModelConfig& config, int batch);

// The engine to time when none is named: fp32 for a checkpoint directory; for a quantized file the integer engine
// when this build has it, else fake quant.
std::string default_bench_engine(const std::string& model_path);

// One batch of synthetic input and the call that runs `engine` on it: normalized images for an engine that takes
// them (Engine::forward), uint8 pixels for one that takes pixels (the integer executor). `engine` must outlive it.
std::function<void()> batch_runner(const Engine& engine, int batch);

// The model's bytes on disk: model.safetensors of a checkpoint directory, or the quantized file itself.
int64_t model_file_bytes(const std::string& model_path);

// Times `run_batch`, which runs the model on one batch of `options.batch` images already in memory.
BenchResult bench_forward(const std::function<void()>& run_batch, const BenchOptions& options);

// The instruction set the engine's kernels run on: oneDNN's effective ISA for the float engines (fp32, fake; e.g.
// "avx512_core_bf16"), the integer GEMM path (kernels/gemm.h: "amx", "avx512_vnni", "ref") for an integer engine.
std::string engine_isa(const std::string& engine);

// What the process holds, from /proc/self/status: resident now and the peak so far, in bytes (0 where unknown).
int64_t resident_bytes();
int64_t peak_resident_bytes();

// The 1-minute load average (/proc/loadavg), -1 where unknown: figures measured on a shared machine carry it.
double load_average();

}  // namespace fqvit

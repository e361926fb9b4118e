// fqvit-report: a sweep's results as the paper's table and a top-1-against-bits plot; or the exact merge of
// sharded evaluations (--merge).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "fqvit/core/error.h"
#include "fqvit/io/atomic_file.h"
#include "fqvit/io/output_paths.h"
#include "fqvit/research/report.h"
#include "fqvit/research/results_file.h"
#include "cli_common.h"

namespace {

struct Args {
  std::vector<std::string> inputs;
  std::string svg, markdown, json_out;
  bool merge = false, speed = false;
};

std::vector<fqvit::NamedPath> inputs_of(const Args& a) {
  std::vector<fqvit::NamedPath> inputs;
  for (const std::string& path : a.inputs) inputs.push_back({"input", path});
  return inputs;
}

int merge(const Args& a) {
  if (a.json_out.empty()) fqvit::fail("command line", "--json", "missing", "the merged JSON to write (--merge)");
  fqvit::check_output_paths({{"--json", a.json_out}}, inputs_of(a));
  std::vector<std::pair<std::string, nlohmann::json>> shards;
  for (const std::string& path : a.inputs) {
    shards.emplace_back(path, fqvit::read_json_file(path));
  }
  const nlohmann::json merged = fqvit::merge_shards(shards);
  fqvit::write_file_atomically(a.json_out, [&](std::ostream& out) { out << merged.dump(2) << "\n"; });
  std::printf("merged %zu shards: top-1 %.2f%%  top-5 %.2f%%  (%lld images) -> %s\n", shards.size(),
              merged["top1"].get<double>(), merged["top5"].get<double>(),
              static_cast<long long>(merged["images"].get<int64_t>()), a.json_out.c_str());
  return 0;
}

int report(const Args& a) {
  fqvit::check_output_paths({{"--svg", a.svg}, {"--markdown", a.markdown}}, inputs_of(a));
  std::vector<nlohmann::json> records;
  int64_t broken = 0;
  for (const std::string& path : a.inputs) {
    fqvit::ResultsFile file = fqvit::read_results(path);
    for (const std::string& w : file.warnings) std::fprintf(stderr, "fqvit-report: warning: %s\n", w.c_str());
    broken += file.broken;
    records.insert(records.end(), file.records.begin(), file.records.end());
  }
  const std::vector<nlohmann::json> latest = fqvit::latest_by_key(records);
  int64_t failed = 0;
  for (const auto& r : latest) failed += r.value("status", "") == "ok" ? 0 : 1;
  const std::string table = fqvit::markdown_table(latest, a.speed);
  std::printf("%s", table.c_str());
  std::printf("\n%zu runs (%lld failed) from %zu file(s)", latest.size(), static_cast<long long>(failed),
              a.inputs.size());
  if (broken > 0) std::printf("; %lld broken line(s) skipped", static_cast<long long>(broken));
  std::printf("\n");
  if (!a.markdown.empty()) {
    fqvit::write_file_atomically(a.markdown, [&](std::ostream& out) { out << table; });
  }
  if (!a.svg.empty()) {
    const std::string svg = fqvit::accuracy_plot_svg(latest);
    fqvit::write_file_atomically(a.svg, [&](std::ostream& out) { out << svg; });
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fqvit-report: Markdown table and SVG plot of fqvit-sweep results; --merge adds up eval shards"};
  fqvit::cli::show_defaults(app);
  Args a;
  app.add_option("inputs", a.inputs, "results JSONL files (or, with --merge, shard JSON files)")->required();
  app.add_option("--svg", a.svg, "write top-1 against bits per method as a self-contained SVG");
  app.add_option("--markdown", a.markdown, "write the table as Markdown");
  app.add_flag("--speed", a.speed, "add each run's images/s to its cell (\"top-1, N/s\")");
  app.add_flag("--merge", a.merge, "merge fqvit-eval --shard I/N --json outputs into one record (needs --json)");
  app.add_option("--json", a.json_out, "the merged record to write (--merge)");
  if (const int status = fqvit::cli::parse(app, argc, argv, "fqvit-report"); status >= 0) return status;
  try {
    return a.merge ? merge(a) : report(a);
  } catch (const fqvit::Error& e) {
    std::fprintf(stderr, "fqvit-report: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fqvit-report: internal error: %s\n", e.what());
    return 2;
  }
}

// What every fqvit command line shares: --help shows each default, a bad argument is one line
// "<tool>: error: command line: <flag>: found <value>, expected <range>" with exit status 1 (CLI11's own codes
// are 100+), and numeric flags are range-checked in one place.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fqvit/core/error.h"

namespace fqvit::cli {

// Call before adding options, so --help prints every default.
inline void show_defaults(CLI::App& app) { app.option_defaults()->always_capture_default(); }

// Parses argv; returns -1 to go on, else the exit status (0 after --help, 1 for a bad command line).
inline int parse(CLI::App& app, int argc, char** argv, const char* tool) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: command line: %s (see --help)\n", tool, e.what());
    return 1;
  }
  return -1;
}

// Throws Error("command line: <flag>: found <value>, expected lo..hi") unless lo <= value <= hi.
inline void check_range(const char* flag, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    fail("command line", flag, std::to_string(value), std::to_string(lo) + ".." + std::to_string(hi));
  }
}

// Refuses a switch given more than once, in either spelling (--ptf --no-ptf): the last would silently win.
inline void check_given_once(const CLI::App& app, const char* flag, const char* spellings) {
  const size_t n = app.count(flag);
  if (n > 1) fail("command line", spellings, std::to_string(n) + " times", "at most once");
}

}  // namespace fqvit::cli

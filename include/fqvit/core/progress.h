// A one-line progress bar on stderr for long jobs; silent when stderr is not a terminal (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fqvit {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "img");
  ~ProgressBar();  // ends the line if anything was drawn
  void advance(int64_t count);
  bool enabled() const { return enabled_; }

 private:
  void draw();
  std::string label_;
  std::string unit_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fqvit

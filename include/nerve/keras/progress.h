// Keras-style progress bar: "1875/1875 [====>...] - ETA: 3s - loss: 0.5012 - accuracy: 0.8231".
// Redraws in place on a terminal; prints one line per epoch when stdout is not a terminal.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace nerve::keras {

class ProgressBar {
 public:
  /// steps: batches per epoch; verbose: 0 silent, 1 bar, 2 one line per epoch; tty: -1 detects stdout.
  ProgressBar(int64_t steps, int verbose, int tty = -1, std::FILE* out = stdout);
  /// Called after each batch with the running averages.
  void update(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  /// Prints the final line of the epoch (with validation values if any).
  void finish(const std::vector<std::pair<std::string, double>>& values);

 private:
  std::string format(int64_t step, const std::vector<std::pair<std::string, double>>& values, bool done) const;
  int64_t steps_;
  int verbose_;
  bool tty_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// Formats seconds the way Keras does ("3s", "1:05", "45ms/step").
std::string format_duration(double seconds);

}  // namespace nerve::keras

// Keras-style progress bar. On a terminal the line is redrawn at most every 50 ms with '\r'.
#include "nerve/keras/progress.h"

#include <unistd.h>

#include <cmath>

namespace nerve::keras {

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", int(s) / 3600, (int(s) % 3600) / 60, int(s) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%d:%02d", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ds", int(std::lround(s)));
  return buf;
}

ProgressBar::ProgressBar(int64_t steps, int verbose, int tty, std::FILE* out)
    : steps_(steps), verbose_(verbose), tty_(tty < 0 ? isatty(fileno(out)) != 0 : tty != 0), out_(out) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

std::string ProgressBar::format(int64_t step, const std::vector<std::pair<std::string, double>>& values,
                                bool done) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int width = static_cast<int>(std::to_string(steps_).size());
  char head[64];
  std::snprintf(head, sizeof head, "%*lld/%lld [", width, static_cast<long long>(step),
                static_cast<long long>(steps_));
  std::string s = head;
  const int bar = 30;
  int filled = steps_ > 0 ? static_cast<int>(bar * step / steps_) : bar;
  for (int i = 0; i < bar; ++i) s += i < filled - 1 || (done && i < filled) ? '=' : i == filled - 1 ? (done ? '=' : '>') : '.';
  s += "] - ";
  if (done) {
    double per = step > 0 ? elapsed / static_cast<double>(step) : 0;
    char tail[64];
    if (per >= 1)
      std::snprintf(tail, sizeof tail, "%s %.0fs/step", format_duration(elapsed).c_str(), per);
    else if (per >= 1e-3)
      std::snprintf(tail, sizeof tail, "%s %.0fms/step", format_duration(elapsed).c_str(), per * 1e3);
    else
      std::snprintf(tail, sizeof tail, "%s %.0fus/step", format_duration(elapsed).c_str(), per * 1e6);
    s += tail;
  } else {
    double eta = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(steps_ - step) : 0;
    s += "ETA: " + format_duration(eta);
  }
  for (const auto& [k, v] : values) {
    char buf[96];
    std::snprintf(buf, sizeof buf, " - %s: %.4f", k.c_str(), v);
    s += buf;
  }
  return s;
}

void ProgressBar::update(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  if (verbose_ != 1 || !tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (step < steps_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  std::fprintf(out_, "\r%s\x1b[K", format(step, values, false).c_str());
  std::fflush(out_);
}

void ProgressBar::finish(const std::vector<std::pair<std::string, double>>& values) {
  if (verbose_ == 0) return;
  std::string line = format(steps_, values, true);
  if (verbose_ == 1 && tty_)
    std::fprintf(out_, "\r%s\x1b[K\n", line.c_str());
  else
    std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace nerve::keras

// The command line of every example, on CLI11 (Debian's libcli11-dev): --help (exit 0), typed values with range
// checks, and an unknown flag or a bad value rejected with one line and exit 2 before any data is loaded.
//   examples::Cli cli("mnist_mlp", "Keras MNIST classifier");
//   int epochs = 5;  cli.add("--epochs", epochs, "passes over the data")->check(CLI::Range(1, 10000));
//   cli.parse(argc, argv);
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

namespace examples {

class Cli {
 public:
  Cli(std::string name, const std::string& description) : name_(std::move(name)), app_(description, name_) {
    app_.option_defaults()->always_capture_default();
  }
  /// A flag with a value; the variable's type is the value's type and holds the default.
  template <class T>
  CLI::Option* add(const std::string& flag, T& value, const std::string& help) {
    return app_.add_option(flag, value, help);
  }
  /// An integer flag with its range: "abc", "1.5", "-1" or 99999999999 for an int in [1, 10000] are refused.
  template <class T>
  CLI::Option* integer(const std::string& flag, T& value, const std::string& help, T lo, T hi) {
    return app_.add_option(flag, value, help)->check(integer_in(lo, hi));
  }
  /// A flag without a value.
  CLI::Option* flag(const std::string& flag, bool& value, const std::string& help) {
    return app_.add_flag(flag, value, help);
  }
  /// --threads N, from 1 to the hardware's thread count (0, the default, keeps nerve's own choice).
  CLI::Option* threads(int& value) {
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return integer("--threads", value, "threads (default: nerve's choice; this machine has " + std::to_string(hw) + ")",
                   1, hw);
  }
  /// A validator: the text is a whole integer of type T in [lo, hi].
  template <class T>
  static CLI::Validator integer_in(T lo, T hi) {
    const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    return CLI::Validator(
        [lo, hi, range](std::string& s) -> std::string {
          T v{};
          const char* end = s.data() + s.size();
          auto [p, ec] = std::from_chars(s.data(), end, v);
          if (s.empty() || ec != std::errc() || p != end || v < lo || v > hi) return "expected " + range + ", got '" + s + "'";
          return "";
        },
        "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  /// Parses argv: --help prints the usage and exits 0; a mistake prints one line and exits 2.
  void parse(int argc, char** argv) {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      std::exit(app_.exit(e));
    } catch (const CLI::ParseError& e) {
      std::fprintf(stderr, "%s: %s (see %s --help)\n", name_.c_str(), e.what(), name_.c_str());
      std::exit(2);
    }
  }
  CLI::App& app() { return app_; }

 private:
  std::string name_;
  CLI::App app_;
};

/// A number for JSON output: non-finite values (NaN, inf) are not JSON numbers and become null.
inline std::string json_number(double v, int decimals = 4) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace examples

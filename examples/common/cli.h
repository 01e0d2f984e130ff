// The command line of every example, on CLI11 (Debian's libcli11-dev): --help (exit 0), typed values with range
// checks, and an unknown flag or a bad value rejected with one line and exit 2 before any data is loaded.
//   examples::Cli cli("mnist_mlp", "Keras MNIST classifier");
//   int epochs = 5;  cli.integer("--epochs", epochs, "passes over the data", 1, 10000);
//   cli.add("--data", dir, "the data directory")->existing_dir();
//   cli.parse(argc, argv);
// CLI11 is header-only and its code is generated in every file that includes it (~6 s of compile time each): it is
// included by cli.cpp alone, compiled once into the examples' small library, and this header stays light.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace examples {

/// One flag or positional argument, as returned by Cli::add: its checks chain, cli.add(...)->required()->existing_file().
class Option {
 public:
  Option* required();
  Option* existing_file();
  Option* existing_dir();
  Option* existing_path();  ///< a file or a directory
  Option* range(double lo, double hi);
  Option* one_of(const std::vector<std::string>& values);

 private:
  friend class Cli;
  explicit Option(void* impl) : impl_(impl) {}
  void* impl_;  // the CLI::Option
};

class Cli {
 public:
  Cli(std::string name, const std::string& description);
  ~Cli();
  /// A flag with a value ("--lr") or, without the dashes, a positional argument; the variable holds the default.
  Option* add(const std::string& flag, std::string& value, const std::string& help);
  Option* add(const std::string& flag, double& value, const std::string& help);
  Option* add(const std::string& flag, float& value, const std::string& help);
  /// An integer flag with its range: "abc", "1.5", "-1" or 99999999999 for an int in [1, 10000] are refused.
  Option* integer(const std::string& flag, int& value, const std::string& help, int lo, int hi);
  Option* integer(const std::string& flag, int64_t& value, const std::string& help, int64_t lo, int64_t hi);
  Option* integer(const std::string& flag, uint64_t& value, const std::string& help, uint64_t lo, uint64_t hi);
  /// A flag without a value.
  Option* flag(const std::string& flag, bool& value, const std::string& help);
  /// --threads N, from 1 to the hardware's thread count (0, the default, keeps nerve's own choice).
  Option* threads(int& value);
  /// Parses argv: --help prints the usage and exits 0; a mistake prints one line and exits 2.
  void parse(int argc, char** argv);
  /// How many times the flag was given (after parse).
  size_t count(const std::string& flag) const;

 private:
  struct Impl;
  Option* keep(void* option);
  std::unique_ptr<Impl> impl_;
};

/// A number for JSON output: non-finite values (NaN, inf) are not JSON numbers and become null.
inline std::string json_number(double v, int decimals = 4) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace examples

// examples::Cli on CLI11: the only file of the examples that includes it (see cli.h).
#include "common/cli.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <thread>

#include <CLI/CLI.hpp>

namespace examples {
namespace {

CLI::Option* opt(void* impl) { return static_cast<CLI::Option*>(impl); }

/// A validator: the text is a whole integer of type T in [lo, hi].
template <class T>
CLI::Validator integer_in(T lo, T hi) {
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

}  // namespace

Option* Option::required() { opt(impl_)->required(); return this; }
Option* Option::existing_file() { opt(impl_)->check(CLI::ExistingFile); return this; }
Option* Option::existing_dir() { opt(impl_)->check(CLI::ExistingDirectory); return this; }
Option* Option::existing_path() { opt(impl_)->check(CLI::ExistingPath); return this; }
Option* Option::range(double lo, double hi) { opt(impl_)->check(CLI::Range(lo, hi)); return this; }
Option* Option::one_of(const std::vector<std::string>& values) { opt(impl_)->check(CLI::IsMember(values)); return this; }

struct Cli::Impl {
  Impl(const std::string& description, const std::string& name) : app(description, name) {}
  CLI::App app;
  std::deque<Option> options;  // stable addresses for the Option* handed out
};

Cli::Cli(std::string name, const std::string& description) : impl_(std::make_unique<Impl>(description, name)) {
  impl_->app.option_defaults()->always_capture_default();
}
Cli::~Cli() = default;

Option* Cli::keep(void* option) {
  impl_->options.push_back(Option(option));
  return &impl_->options.back();
}
Option* Cli::add(const std::string& flag, std::string& value, const std::string& help) {
  return keep(impl_->app.add_option(flag, value, help));
}
Option* Cli::add(const std::string& flag, double& value, const std::string& help) {
  return keep(impl_->app.add_option(flag, value, help));
}
Option* Cli::add(const std::string& flag, float& value, const std::string& help) {
  return keep(impl_->app.add_option(flag, value, help));
}
Option* Cli::integer(const std::string& flag, int& value, const std::string& help, int lo, int hi) {
  return keep(impl_->app.add_option(flag, value, help)->check(integer_in(lo, hi)));
}
Option* Cli::integer(const std::string& flag, int64_t& value, const std::string& help, int64_t lo, int64_t hi) {
  return keep(impl_->app.add_option(flag, value, help)->check(integer_in(lo, hi)));
}
Option* Cli::integer(const std::string& flag, uint64_t& value, const std::string& help, uint64_t lo, uint64_t hi) {
  return keep(impl_->app.add_option(flag, value, help)->check(integer_in(lo, hi)));
}
Option* Cli::flag(const std::string& flag, bool& value, const std::string& help) {
  return keep(impl_->app.add_flag(flag, value, help));
}
Option* Cli::threads(int& value) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return integer("--threads", value, "threads (default: nerve's choice; this machine has " + std::to_string(hw) + ")",
                 1, hw);
}

void Cli::parse(int argc, char** argv) {
  CLI::App& app = impl_->app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see %s --help)\n", app.get_name().c_str(), e.what(), app.get_name().c_str());
    std::exit(2);
  }
}

size_t Cli::count(const std::string& flag) const { return impl_->app.count(flag); }

}  // namespace examples

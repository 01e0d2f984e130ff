// Errors: nerve::Error for user mistakes (NERVE_CHECK) and NERVE_ASSERT for internal invariants.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace nerve {

/// The exception every user-facing mistake raises; what() names the op, the shapes and what was expected.
///   try { matmul(a, b); } catch (const nerve::Error& e) { std::cerr << e.what(); }
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const std::string& msg);
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail
}  // namespace nerve

/// Throws nerve::Error with the concatenated message when cond is false.
#define NERVE_CHECK(cond, ...)                                                  \
  do {                                                                          \
    if (!(cond)) [[unlikely]]                                                   \
      ::nerve::detail::throw_error(::nerve::detail::str_cat(__VA_ARGS__));      \
  } while (0)

/// Internal invariant: a failure is a bug in nerve, not in the user's program.
#define NERVE_ASSERT(cond, ...)                                                          \
  do {                                                                                   \
    if (!(cond)) [[unlikely]]                                                            \
      ::nerve::detail::assert_fail(#cond, __FILE__, __LINE__,                            \
                                   ::nerve::detail::str_cat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)

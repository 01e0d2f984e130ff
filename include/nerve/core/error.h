// Errors: nerve::Error for user mistakes (NERVE_CHECK) and NERVE_ASSERT for internal invariants.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nerve {

/// Shapes print as [2, 3] (core/shape.cpp); declared here too, so a message can hold a Shape whichever header a
/// file includes first
std::ostream& operator<<(std::ostream& os, const std::vector<int64_t>& s);

/// The exception every user-facing mistake raises; what() names the op, the shapes and what was expected.
///   try { matmul(a, b); } catch (const nerve::Error& e) { std::cerr << e.what(); }
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
/// An ostringstream whose construction and destruction are compiled once (error.cpp), not into every message.
class MessageBuilder {
 public:
  MessageBuilder();
  ~MessageBuilder();
  std::ostream& os() { return os_; }
  std::string str() const { return os_.str(); }

 private:
  std::ostringstream os_;
};
template <class... Args>
std::string str_cat_decayed(const Args&... args) {
  MessageBuilder m;
  (m.os() << ... << args);
  return m.str();
}
template <class T>
const T& message_arg(const T& v) {
  return v;
}
inline const char* message_arg(const char* s) { return s; }
/// The arguments written one after the other to a std::ostringstream.  str_cat("dim ", 3) == "dim 3"
/// String literals are passed on as const char*, not as char arrays of each length, so all messages with the same
/// kinds of arguments share one copy of the code (with MessageBuilder, 234 KB less library).
template <class... Args>
std::string str_cat(const Args&... args) {
  return str_cat_decayed(message_arg(args)...);
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

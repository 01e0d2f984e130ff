// Error reporting helpers behind NERVE_CHECK and NERVE_ASSERT.
#include "nerve/core/error.h"

namespace nerve::detail {

MessageBuilder::MessageBuilder() = default;
MessageBuilder::~MessageBuilder() = default;

void throw_error(const std::string& msg) { throw Error(msg); }

void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  throw Error(str_cat("internal error (a bug in nerve): ", cond, " at ", file, ":", line, msg.empty() ? "" : ": ", msg));
}

}  // namespace nerve::detail

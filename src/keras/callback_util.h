// Helpers of the Keras callbacks (src/keras/callbacks.cpp, and the ones in src/io that write model files).
#pragma once
#include <string>

#include "nerve/keras/callbacks.h"

namespace nerve::keras::callback_util {

// "auto" watches accuracy-like names for increases, everything else for decreases
inline bool maximize(const std::string& mode, const std::string& monitor) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  NERVE_CHECK(mode == "auto", "callback: mode must be 'min', 'max' or 'auto', got '", mode, "'");
  return monitor.find("acc") != std::string::npos;
}

inline double lookup(const Logs& logs, const std::string& monitor, const char* who) {
  auto it = logs.find(monitor);
  NERVE_CHECK(it != logs.end(), who, ": monitored value '", monitor,
              "' is not in the logs (pass validation data for val_* names)");
  return it->second;
}

}  // namespace nerve::keras::callback_util

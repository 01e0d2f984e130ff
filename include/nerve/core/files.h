// Checks on output paths, so a program can refuse an unwritable path before it starts working, not after.
#pragma once
#include <string>

namespace nerve {

/// Throws nerve::Error "<what>: <path>: <why>" unless nerve's file writers (the profiler's trace, write_idx,
/// CharTokenizer::save, keras::CSVLogger) could write `path` now: an existing regular file (through symlinks)
/// with a writable folder for the temporary file, a new file in a writable folder, or a writable FIFO or device,
/// which is written directly. A folder, a socket or a missing parent folder is refused.
///   nerve::check_writable(trace_path, "--trace");
void check_writable(const std::string& path, const std::string& what);

}  // namespace nerve

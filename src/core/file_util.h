// File helpers shared by the data readers and the profiler's trace export: whole-file reads with errno in the
// message, and atomic writes (temporary file in the same folder + rename, so a crash never leaves a half-written
// file under the real name).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nerve::detail {

/// All bytes of `path`; throws "<what>: <path>: cannot open (<reason>)" when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path, const char* what);

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the folder); throws "<what>: <path>: ..." on failure.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, const char* what);

}  // namespace nerve::detail

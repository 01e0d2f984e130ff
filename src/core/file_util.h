// File helpers shared by the data readers and writers, the profiler's trace export and CSVLogger: whole-file
// reads with errno in the message, and safe writes: a regular file is replaced atomically (a uniquely named
// temporary file in the same folder, then rename, so a crash never leaves a half-written file under the real name)
// keeping its permissions; a symlink is followed and its target replaced; a FIFO or a device is written in place,
// never replaced.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nerve::detail {

/// All bytes of `path`; throws "<what>: <path>: cannot open (<reason>)" when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path, const char* what);

/// Writes `bytes` to `path`: atomically when it is a regular file or new (a unique temporary file in its folder,
/// fsync, rename, fsync of the folder; see above); throws "<what>: <path>: ..." on failure.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, const char* what);

}  // namespace nerve::detail

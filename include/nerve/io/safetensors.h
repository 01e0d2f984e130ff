// safetensors files (https://github.com/huggingface/safetensors), read and written: an 8-byte little-endian header
// length, a JSON header (name -> dtype, shape, data_offsets; optional "__metadata__"), then the raw bytes.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "nerve/nn/module.h"

namespace nerve::io {

/// String -> string pairs stored under "__metadata__".
using Metadata = std::map<std::string, std::string>;

/// A file's tensors in the order of its header, and its metadata.
struct SafetensorsFile {
  nn::StateDict tensors;
  Metadata metadata;
};

/// Writes `tensors` (any dtype and layout; views are written contiguous) atomically to `path`.
///   io::save_safetensors(model.state_dict(), "model.safetensors", {{"format", "pt"}});
/// Names must be unique and not "__metadata__". The header keeps the given order; the data is laid out by
/// decreasing item size so every tensor is aligned to its item size in the file (as PyTorch's writer does).
void save_safetensors(const nn::StateDict& tensors, const std::string& path, const Metadata& metadata = {});
/// The bytes save_safetensors writes.
std::vector<uint8_t> safetensors_bytes(const nn::StateDict& tensors, const Metadata& metadata = {});

/// Reads a safetensors file by mapping it: tensors aligned to their item size point into the mapping (no copy;
/// writing to them copies the touched pages, never the file), others are copied.
///   nn::StateDict sd = io::load_safetensors("model.safetensors");  model.load_state_dict(sd);
/// Throws nerve::Error naming the file, the tensor and the byte offset for a truncated or corrupt file. Note: as
/// with any mapping, truncating the file while its tensors are alive makes reading them fault (SIGBUS).
nn::StateDict load_safetensors(const std::string& path);
/// load_safetensors with the metadata.
SafetensorsFile read_safetensors(const std::string& path);
/// Parses safetensors bytes held in memory (copied into the tensors); `name` stands for the file in errors.
SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name = "<memory>");

/// The safetensors name of a dtype ("F32", "BF16", "BOOL", ...).
const char* safetensors_dtype_name(DType d);

}  // namespace nerve::io

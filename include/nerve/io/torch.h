// PyTorch checkpoints read without Python: the zip files torch.save writes (torch >= 1.6), through a restricted
// unpickler that accepts only what a state dict holds and never runs code.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "nerve/nn/module.h"

namespace nerve::io {

/// The tensors of a file written by `torch.save(model.state_dict(), path)`, by name in the file's order.
///   model.load_state_dict(io::load_torch("model.pt"));
/// Tensors that share a storage in the file share it here (views with their offsets and strides); dtypes f64, f32,
/// f16, bf16, i64, i32, i8, u8 and bool. Nested dicts (a checkpoint {"model": state_dict, "epoch": 3}) are flattened
/// with dotted names ("model.fc.weight"); values that are not tensors are skipped. Any class besides
/// OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the storage types, any other pickle
/// opcode, a missing zip entry or a size that does not match throws nerve::Error naming the file.
nn::StateDict load_torch(const std::string& path);
/// load_torch from the bytes of such a file held in memory; `name` stands for the file in errors.
nn::StateDict parse_torch(std::span<const uint8_t> bytes, const std::string& name = "<memory>");

}  // namespace nerve::io

// Module::save / Module::load (declared in nerve/nn/module.h): a module's state dict as a safetensors file. They
// are defined here, in the io layer that owns the file formats, so the nn layer does not depend on it.
#include "nerve/io/safetensors.h"
#include "nerve/nn/module.h"

namespace nerve::nn {

void Module::save(const std::string& path) const {
  io::save_safetensors(state_dict(), path, {{"format", "pt"}, {"producer", "nerve"}});
}

void Module::load(const std::string& path, bool strict) { load_state_dict(io::load_safetensors(path), strict); }

}  // namespace nerve::nn

// nerve side of bench/io.sh: saving and loading a state dict of ~100M f32 parameters (a Sequential of Linear
// layers, 1000x1000 weights + biases) as safetensors, and reading PyTorch's file of the same tensors. One round
// per run, one JSON line: seconds for each step (the script alternates runs with bench/io_torch.py).
//   bench_io --dir DIR [--layers 100] [--torch-file DIR/torch.pt]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "nerve/core/rng.h"
#include "nerve/io/safetensors.h"
#include "nerve/io/torch.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/sequential.h"
#include "nerve/ops/ops.h"

using namespace nerve;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::shared_ptr<nn::Sequential> make_model(int layers) {
  auto m = std::make_shared<nn::Sequential>();
  for (int i = 0; i < layers; ++i) m->push_back(std::make_shared<nn::Linear>(1000, 1000));
  return m;
}
}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp", torch_file;
  int layers = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--layers") layers = std::stoi(argv[i + 1]);
    else if (a == "--torch-file") torch_file = argv[i + 1];
  }
  manual_seed(0);
  auto src = make_model(layers), dst = make_model(layers);
  const std::string path = dir + "/nerve.safetensors";
  const int64_t params = src->num_parameters();

  double t0 = now();
  src->save(path);  // write_file_atomic: temporary file, fsync, rename, fsync of the folder
  const double save_s = now() - t0;
  // the same save into memory (tmpfs, where fsync costs nothing): what saving costs besides the disk
  double save_tmpfs_s = -1;
  if (std::filesystem::is_directory("/dev/shm")) {
    const std::string shm = "/dev/shm/nerve_bench_io_" + std::to_string(::getpid()) + ".safetensors";
    t0 = now();
    src->save(shm);
    save_tmpfs_s = now() - t0;
    std::filesystem::remove(shm);
  }

  t0 = now();
  nn::StateDict sd = io::load_safetensors(path);  // maps the file: no byte is read yet
  const double load_map_s = now() - t0;
  t0 = now();
  dst->load_state_dict(sd);  // reads every byte (page cache) into the model's parameters
  const double load_into_model_s = load_map_s + (now() - t0);
  sd.clear();
  const bool same = (*src)(ones({1, 1000})).sum().item<float>() == (*dst)(ones({1, 1000})).sum().item<float>();

  double load_torch_s = -1, load_torch_into_model_s = -1;
  if (!torch_file.empty() && std::filesystem::exists(torch_file)) {
    t0 = now();
    nn::StateDict tsd = io::load_torch(torch_file);
    load_torch_s = now() - t0;
    dst->load_state_dict(tsd);
    load_torch_into_model_s = now() - t0;
  }
  std::printf("{\"impl\": \"nerve\", \"params\": %lld, \"bytes\": %llu, \"save_tmpfs_s\": %.4f, \"save_s\": %.4f, \"load_s\": %.5f, "
              "\"load_into_model_s\": %.4f, \"load_torch_file_s\": %.4f, \"load_torch_file_into_model_s\": %.4f, "
              "\"roundtrip_ok\": %s}\n",
              static_cast<long long>(params), static_cast<unsigned long long>(std::filesystem::file_size(path)),
              save_tmpfs_s, save_s, load_map_s, load_into_model_s, load_torch_s, load_torch_into_model_s,
              same ? "true" : "false");
  std::filesystem::remove(path);
  return same ? 0 : 1;
}

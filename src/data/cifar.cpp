// CIFAR-10 / CIFAR-100 binary readers: fixed-size records (label byte(s) + 3 x 32 x 32 pixels), checked for whole
// records and label ranges, concatenated over the batch files of a split.
#include <cstring>

#include "core/file_util.h"
#include "nerve/data/datasets.h"
#include "nerve/ops/ops.h"

namespace nerve::data::datasets {

namespace {
constexpr int64_t kPixels = 3 * 32 * 32;

Cifar read_files(const std::vector<std::string>& paths, bool cifar100) {
  std::vector<Cifar> parts;
  for (const std::string& p : paths) parts.push_back(read_cifar_file(p, cifar100));
  if (parts.size() == 1) return parts[0];
  std::vector<Tensor> im, lb, co;
  for (const Cifar& c : parts) {
    im.push_back(c.images);
    lb.push_back(c.labels);
    if (cifar100) co.push_back(c.coarse_labels);
  }
  return {cat(im), cat(lb), cifar100 ? cat(co) : Tensor()};
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}
}  // namespace

Cifar read_cifar_file(const std::string& path, bool cifar100) {
  const char* what = cifar100 ? "cifar100" : "cifar10";
  const std::vector<uint8_t> bytes = detail::read_file_bytes(path, what);
  const int64_t label_bytes = cifar100 ? 2 : 1, record = label_bytes + kPixels;
  const int64_t size = static_cast<int64_t>(bytes.size());
  NERVE_CHECK(size > 0 && size % record == 0, what, ": ", path, ": ", size, " bytes is not a whole number of ",
              record, "-byte records (", label_bytes, " label byte", cifar100 ? "s" : "",
              " + 3072 pixels); is it the binary version of the dataset, and complete?");
  const int64_t n = size / record;
  Tensor images = empty({n, 3, 32, 32}, DType::u8, Device::cpu);
  Tensor labels = empty({n}, DType::i64, Device::cpu);
  Tensor coarse = cifar100 ? empty({n}, DType::i64, Device::cpu) : Tensor();
  uint8_t* im = images.data<uint8_t>();
  int64_t* lb = labels.data<int64_t>();
  const int64_t classes = cifar100 ? 100 : 10;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    const int64_t label = r[label_bytes - 1];
    NERVE_CHECK(label < classes, what, ": ", path, ": record ", i, " (byte ", i * record + label_bytes - 1,
                ") has label ", label, ", expected 0..", classes - 1);
    if (cifar100) {
      NERVE_CHECK(r[0] < 20, what, ": ", path, ": record ", i, " (byte ", i * record, ") has coarse label ",
                  int(r[0]), ", expected 0..19");
      coarse.data<int64_t>()[i] = r[0];
    }
    lb[i] = label;
    std::memcpy(im + i * kPixels, r + label_bytes, kPixels);
  }
  return {images, labels, coarse};
}

Cifar cifar10(const std::string& dir, bool train) {
  if (!train) return read_files({join(dir, "test_batch.bin")}, false);
  std::vector<std::string> paths;
  for (int k = 1; k <= 5; ++k) paths.push_back(join(dir, "data_batch_" + std::to_string(k) + ".bin"));
  return read_files(paths, false);
}

Cifar cifar100(const std::string& dir, bool train) {
  return read_files({join(dir, train ? "train.bin" : "test.bin")}, true);
}

const std::array<const char*, 10>& cifar10_classes() {
  static const std::array<const char*, 10> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                    "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace nerve::data::datasets

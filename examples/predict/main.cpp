// Loads a Keras model saved with model.save (examples/mnist_mlp --save m.nerve) and classifies images from an
// IDX file; with --labels, also prints the accuracy.
//   predict m.nerve t10k-images-idx3-ubyte.gz [--labels t10k-labels-idx1-ubyte.gz] [--count N]
#include <cstdio>
#include <string>

#include <nerve/data/idx.h>
#include <nerve/nerve.h>

using namespace nerve;

int main(int argc, char** argv) try {
  NERVE_CHECK(argc >= 3, "usage: predict MODEL IMAGES_IDX [--labels LABELS_IDX] [--count N]");
  std::string labels_path;
  int64_t count = 10;
  for (int i = 3; i < argc; ++i) {
    std::string k = argv[i];
    NERVE_CHECK(i + 1 < argc, k, " needs a value");
    if (k == "--labels") labels_path = argv[++i];
    else if (k == "--count") count = std::stoll(argv[++i]);
    else NERVE_CHECK(false, "unknown flag '", k, "' (flags: --labels LABELS_IDX --count N)");
  }
  auto model = keras::load_model(argv[1]);
  Tensor images = data::read_idx(argv[2]);
  Tensor classes = argmax(model->predict(images), 1);  // (N) i64
  std::vector<int64_t> c = classes.to_vector<int64_t>();
  for (int64_t i = 0; i < std::min<int64_t>(count, static_cast<int64_t>(c.size())); ++i)
    std::printf("image %lld: class %lld\n", static_cast<long long>(i), static_cast<long long>(c[i]));
  if (!labels_path.empty()) {
    Tensor labels = data::read_idx(labels_path).to(DType::i64);
    NERVE_CHECK(labels.numel() == classes.numel(), labels_path, ": ", labels.numel(), " labels for ", classes.numel(),
                " images");
    double acc = eq(classes, labels).to(DType::f64).mean().item<double>();
    std::printf("accuracy %.4f on %lld images\n", acc, static_cast<long long>(classes.numel()));
  }
  return 0;
} catch (const nerve::Error& e) {
  std::fprintf(stderr, "predict: %s\n", e.what());
  return 1;
}

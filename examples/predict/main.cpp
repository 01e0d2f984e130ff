// Loads a Keras model saved with model.save (examples/mnist_mlp --save m.nerve) and classifies images from an
// IDX file; with --labels, also prints the accuracy.
//   predict m.nerve t10k-images-idx3-ubyte.gz [--labels t10k-labels-idx1-ubyte.gz] [--count N]
#include <cstdio>
#include <string>

#include <nerve/data/idx.h>
#include <nerve/nerve.h>

#include "common/cli.h"

using namespace nerve;

int main(int argc, char** argv) try {
  std::string model_path, images_path, labels_path;
  int64_t count = 10;
  examples::Cli cli("predict", "Classifies the images of an IDX file with a Keras model saved by model.save "
                               "(examples/mnist_mlp --save m.nerve); with --labels, also prints the accuracy.");
  cli.add("model", model_path, "the saved model (.nerve)")->required()->existing_file();
  cli.add("images", images_path, "an IDX file of images (raw or .gz)")->required()->existing_file();
  cli.add("--labels", labels_path, "an IDX file of the images' labels")->existing_file();
  cli.integer("--count", count, "how many predictions to print", int64_t{0}, int64_t{1} << 40);
  cli.parse(argc, argv);
  auto model = keras::load_model(model_path);
  Tensor images = data::read_idx(images_path);
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

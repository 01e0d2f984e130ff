// The small CNN through the Keras front door: Conv2D(32, 3x3, "same", relu) -> MaxPooling2D -> Conv2D(64, 3x3,
// "same", relu) -> MaxPooling2D -> Flatten -> Dense(128, relu) -> Dense(10) (logits), sparse categorical
// cross-entropy from the logits, Adam (lr 1e-3), batch 64, shuffled, inputs x / 255 in [0, 1]; PyTorch's peer is
// bench/cnn_torch.py. Runs on Fashion-MNIST by default (Debian package dataset-fashion-mnist); --data DIR points at
// any MNIST-format IDX files. Same flags as mnist_mlp (--save m.nerve: the trained model, for examples/predict),
// plus --train-limit N (train on the first N images).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <vector>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include <nerve/nerve.h>

#include "common/cli.h"

using namespace nerve;

struct Args {
  std::string data, save;
  int epochs = 1;
  int64_t batch_size = 64;
  int64_t train_limit = 0;
  int threads = 0;
  uint64_t seed = 42;
  bool json = false, profile = false;
};

static Args parse(int argc, char** argv) {
  Args a;
  examples::Cli cli("cnn_fashion", "A small CNN (Conv2D, MaxPooling2D, Dense, Adam) on Fashion-MNIST, or on the "
                                   "MNIST-format IDX files of --data DIR.");
  cli.add("--data", a.data, "directory of MNIST-format IDX files (default: Debian's dataset-fashion-mnist)");
  cli.integer("--epochs", a.epochs, "passes over the training set", 1, 10000);
  cli.integer("--batch-size", a.batch_size, "samples per step", int64_t{1}, int64_t{1} << 20);
  cli.integer("--train-limit", a.train_limit, "train on the first N images (0: all)", int64_t{0}, int64_t{1} << 40);
  cli.threads(a.threads);
  cli.integer("--seed", a.seed, "seed of initialization, shuffling and dropout", uint64_t{0},
              std::numeric_limits<uint64_t>::max());
  cli.add("--save", a.save, "write the trained model (architecture, weights, optimizer) to this .nerve file");
  cli.flag("--json", a.json, "one line of JSON results instead of the progress bar");
  cli.flag("--profile", a.profile, "print the time per op over training to stderr");
  cli.parse(argc, argv);
  return a;
}

static double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

int main(int argc, char** argv) try {
  Args args = parse(argc, argv);
  if (args.threads > 0) set_num_threads(args.threads);
  manual_seed(args.seed);

  auto train = data::datasets::fashion_mnist(args.data, true);  // images stay uint8 in memory
  auto test = data::datasets::fashion_mnist(args.data, false);
  Tensor train_x = train.images, train_y = train.labels;
  if (args.train_limit > 0 && args.train_limit < train_x.shape()[0]) {
    train_x = narrow(train_x, 0, 0, args.train_limit);
    train_y = narrow(train_y, 0, 0, args.train_limit);
  }

  keras::Sequential model({
      keras::Rescaling(1.0 / 255, 0.0, Shape{28, 28}),  // x / 255.0, batch by batch
      keras::Reshape({28, 28, 1}),                      // channels-last images, as Keras
      keras::Conv2D(32, {3, 3}, "relu", {.padding = "same"}),
      keras::MaxPooling2D({2, 2}),
      keras::Conv2D(64, {3, 3}, "relu", {.padding = "same"}),
      keras::MaxPooling2D({2, 2}),
      keras::Flatten(),
      keras::Dense(128, "relu"),
      keras::Dense(10),  // logits
  });
  model.compile("adam", {"sparse_categorical_crossentropy", /*from_logits=*/true}, {"accuracy"});
  if (!args.json) model.summary();

  auto t0 = std::chrono::steady_clock::now();
  std::optional<profiler::Profile> prof;  // --profile: time per op over fit, printed to stderr
  if (args.profile) prof.emplace();
  model.fit(train_x, train_y, {.epochs = args.epochs, .batch_size = args.batch_size, .verbose = args.json ? 0 : 1});
  double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (prof) {
    prof->stop();
    std::fprintf(stderr, "%s", prof->table(20).c_str());
  }

  auto result = model.evaluate(test.images, test.labels, 32, args.json ? 0 : 1);
  if (args.json) {
    // inference: predict on the 10,000 test images in batches of 500 (median of 5 passes), and the latency of one
    // image (forward + argmax, no gradients, median of 2000)
    std::vector<double> passes;
    for (int i = 0; i < 5; ++i) {
      auto s = std::chrono::steady_clock::now();
      Tensor probs = model.predict(test.images, 500);
      passes.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
    }
    std::sort(passes.begin(), passes.end());
    NoGradGuard no_grad;
    Tensor one = narrow(test.images, 0, 0, 1);
    std::vector<double> ts;
    for (int i = 0; i < 2200; ++i) {
      auto s = std::chrono::steady_clock::now();
      Tensor label = argmax(model(one), 1);
      if (i >= 200) ts.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
    }
    std::sort(ts.begin(), ts.end());
    std::printf("{\"test_accuracy\": %s, \"test_loss\": %s, \"train_seconds\": %.3f, \"images_per_second\": %.1f, "
                "\"eval_images_per_second\": %.1f, \"infer_latency_us\": %.2f, \"peak_rss_mib\": %.1f}\n",
                examples::json_number(result["accuracy"]).c_str(), examples::json_number(result.loss).c_str(), train_s,
                static_cast<double>(train_x.shape()[0]) * args.epochs / train_s,
                static_cast<double>(test.images.shape()[0]) / passes[passes.size() / 2], ts[ts.size() / 2],
                peak_rss_mib());
  } else {
    std::printf("\nTest accuracy: %.4f\n", result["accuracy"]);
  }
  if (!args.save.empty()) {  // --save m.nerve: examples/predict (or keras::load_model) reads it back
    model.save(args.save);
    if (!args.json) std::printf("Saved the model to %s\n", args.save.c_str());
  }
  return 0;
} catch (const nerve::Error& e) {
  std::fprintf(stderr, "cnn_fashion: %s\n", e.what());
  return 1;
}

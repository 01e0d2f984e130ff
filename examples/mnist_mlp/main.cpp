// The Keras MNIST classifier, line for line: Flatten -> Dense(128, relu) -> Dense(10, softmax), Adam,
// sparse categorical cross-entropy, 5 epochs, evaluate. Runs on Fashion-MNIST by default (Debian package
// dataset-fashion-mnist); --data DIR points at any MNIST-format IDX files; --save m.nerve writes the trained model.
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
  std::string data, save, backup;
  int epochs = 5;
  int64_t batch_size = 32;
  int threads = 0;
  uint64_t seed = 42;
  bool json = false, profile = false, no_overlap = false;
  int64_t own_bucket_kb = 256;
};

static Args parse(int argc, char** argv) {
  Args a;
  examples::Cli cli("mnist_mlp", "The Keras MNIST classifier (Flatten, Dense(128, relu), Dense(10, softmax), Adam) "
                                 "on Fashion-MNIST, or on the MNIST-format IDX files of --data DIR.");
  // (a missing --data directory is reported by the reader, with the package that provides the files)
  cli.add("--data", a.data, "directory of MNIST-format IDX files (default: Debian's dataset-fashion-mnist)");
  cli.integer("--epochs", a.epochs, "passes over the training set", 1, 10000);
  cli.integer("--batch-size", a.batch_size, "samples per step", int64_t{1}, int64_t{1} << 20);
  cli.threads(a.threads);
  cli.integer("--seed", a.seed, "seed of initialization and shuffling", uint64_t{0},
              std::numeric_limits<uint64_t>::max());
  cli.add("--save", a.save, "write the trained model (architecture, weights, optimizer) to this .nerve file");
  cli.add("--backup", a.backup, "back the run up to this directory after every epoch; a killed run started again "
                                "with it resumes there (Keras's BackupAndRestore)");
  cli.flag("--json", a.json, "one line of JSON results (and single-sample latency) instead of the progress bar");
  cli.flag("--profile", a.profile, "print the time per op over training to stderr");
  cli.flag("--no-overlap", a.no_overlap, "under mpirun: all-reduce the gradients after backward, not during it");
  cli.integer("--own-bucket-kb", a.own_bucket_kb, "under mpirun: gradients of at least this many KB are all-reduced in "
              "place, each in a bucket of its own (0: all share 25 MB buckets)", int64_t{0}, int64_t{1} << 30);
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

  keras::Sequential model({
      keras::Rescaling(1.0 / 255, 0.0, Shape{28, 28}),  // x / 255.0, batch by batch
      keras::Flatten(),
      keras::Dense(128, "relu"),
      keras::Dense(10, "softmax"),
  });
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  // under mpirun -np N: data-parallel fit (each rank its shard, --batch-size per rank); rank 0 alone reports
  const int rank = dist::rank(), world = dist::world_size();
  auto strategy = std::make_shared<dist::DataParallel>(dist::DDPOptions{.overlap = !args.no_overlap,
                                                                         .own_bucket_bytes = args.own_bucket_kb * 1024});
  if (!args.json && rank == 0) model.summary();

  auto t0 = std::chrono::steady_clock::now();
  std::optional<profiler::Profile> prof;  // --profile: time per op over fit, printed to stderr
  if (args.profile) prof.emplace();
  std::vector<keras::CallbackPtr> callbacks;
  if (!args.backup.empty()) callbacks.push_back(keras::BackupAndRestore(args.backup));
  model.fit(train.images, train.labels, {.epochs = args.epochs, .batch_size = args.batch_size, .verbose = args.json ? 0 : 1,
                                         .callbacks = callbacks, .strategy = strategy});
  double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (prof) {
    prof->stop();
    std::fprintf(stderr, "%s", prof->table(20).c_str());
  }

  // the test set split over the ranks (the sums and counts added): the single-process result in 1/N of the time
  auto result = model.evaluate(test.images, test.labels, {.batch_size = 32, .verbose = args.json ? 0 : 1,
                                                          .strategy = strategy});
  if (rank != 0) return 0;  // the weights are the same on every rank: rank 0 alone saves and reports
  if (!args.save.empty()) {  // --save m.nerve: examples/predict (or keras::load_model) reads it back
    model.save(args.save);
    if (!args.json) std::printf("Saved the model to %s\n", args.save.c_str());
  }
  if (args.json) {
    // single-sample inference latency: forward one image, no gradients, median of 2000
    NoGradGuard no_grad;
    Tensor one = narrow(test.images, 0, 0, 1);
    std::vector<double> ts;
    for (int i = 0; i < 2200; ++i) {
      auto s = std::chrono::steady_clock::now();
      Tensor label = argmax(model(one), 1);
      if (i >= 200) ts.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
    }
    std::sort(ts.begin(), ts.end());
    using examples::json_number;  // NaN (a diverged loss) is written as null: JSON has no NaN
    // under mpirun: the ranks, and the share of training time rank 0 spent waiting for the gradient all-reduce
    std::string dist_json;
    if (world > 1)
      dist_json = ", \"ranks\": " + std::to_string(world) + ", \"comm_wait_fraction\": " +
                  json_number(strategy->stats().wait_seconds / train_s) + ", \"grad_copy_fraction\": " +
                  json_number(strategy->stats().copy_seconds / train_s) + ", \"overlap\": " +
                  (args.no_overlap ? "false" : "true");
    // samples_per_second: the job's (each epoch is the whole training set, shared among the ranks)
    std::printf("{\"test_accuracy\": %s, \"test_loss\": %s, \"train_seconds\": %.3f, \"samples_per_second\": %.1f, "
                "\"infer_latency_us\": %.2f, \"peak_rss_mib\": %.1f%s}\n",
                json_number(result["accuracy"]).c_str(), json_number(result.loss).c_str(), train_s,
                static_cast<double>(train.size()) * args.epochs / train_s, ts[ts.size() / 2], peak_rss_mib(),
                dist_json.c_str());
  } else {
    std::printf("\nTest accuracy: %.4f\n", result["accuracy"]);
  }
  return 0;
} catch (const nerve::Error& e) {
  std::fprintf(stderr, "mnist_mlp: %s\n", e.what());
  return 1;
}

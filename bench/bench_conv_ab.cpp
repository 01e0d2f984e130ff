// A/B of conv2d's two f32 paths in one process: ResNet-18 (small-input stem, 32x32x3) training steps and
// inference batches, and the small CNN of examples/cnn_fashion (28x28x1, batch 64) training steps, alternating
// rounds of im2col + GEMM, oneDNN with its own layouts (reordered at each call) and oneDNN on the plain layouts.
// Prints each round and the medians (images/s) with the ratio to im2col. Quote the load average with the figures.
//   bench_conv_ab [rounds=3] [train_steps=5] [infer_batches=5] [batch=64]      (threads: NERVE_NUM_THREADS)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nerve/nerve.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/models.h>
#include <nerve/nn/vision.h>

#include "backend/cpu/dnnl_conv.h"

using namespace nerve;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Mode {
  const char* name;
  bool dnnl, any_layout;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  const int infer = argc > 3 ? std::atoi(argv[3]) : 5;
  const int64_t batch = argc > 4 ? std::atoll(argv[4]) : 64;
  if (rounds < 1 || steps < 1 || infer < 1 || batch < 1) {
    std::fprintf(stderr, "usage: bench_conv_ab [rounds] [train_steps] [infer_batches] [batch]\n");
    return 2;
  }
  const Mode modes[] = {{"im2col", false, false}, {"onednn", true, true}, {"onednn-plain", true, false}};
  manual_seed(0);
  auto resnet = models::resnet18({.num_classes = 10, .small_input = true});
  optim::SGD opt(resnet->parameters(), {.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
  using M = std::shared_ptr<nn::Module>;
  nn::Sequential cnn({M(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in = 1, .out = 32, .kernel = 3, .padding = 1})),
                      M(std::make_shared<nn::ReLU>()), M(std::make_shared<nn::MaxPool2d>(2)),
                      M(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in = 32, .out = 64, .kernel = 3, .padding = 1})),
                      M(std::make_shared<nn::ReLU>()), M(std::make_shared<nn::MaxPool2d>(2)),
                      M(std::make_shared<nn::Flatten>()), M(std::make_shared<nn::Linear>(3136, 128)),
                      M(std::make_shared<nn::ReLU>()), M(std::make_shared<nn::Linear>(128, 10))});
  optim::Adam cnn_opt(cnn.parameters(), {.lr = 1e-3});
  Tensor x = randn({batch, 3, 32, 32}), xc = rand({batch, 1, 28, 28});
  Tensor y = randint(0, 10, {batch});

  auto train = [&](nn::Module& m, optim::Optimizer& o, const Tensor& in, int n) {
    m.train();
    for (int i = 0; i < n; ++i) {
      Tensor loss = nn::functional::cross_entropy(m(in), y);
      o.zero_grad();
      loss.backward();
      o.step();
    }
  };
  std::vector<std::vector<double>> res_train(3), res_infer(3), cnn_train(3);
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up (allocations, primitive caches) and is not counted
    for (int k = 0; k < 3; ++k) {
      const Mode& md = modes[k];
      cpu::set_dnnl_conv_enabled(md.dnnl);
      cpu::set_dnnl_conv_any_layout(md.any_layout);
      auto t0 = clock_type::now();
      train(*resnet, opt, x, r == 0 ? 1 : steps);
      const double tr = double(batch) * (r == 0 ? 1 : steps) / seconds_since(t0);
      resnet->eval();
      double inf = 0;
      {
        NoGradGuard ng;
        t0 = clock_type::now();
        for (int i = 0; i < (r == 0 ? 1 : infer); ++i) (*resnet)(x);
        inf = double(batch) * (r == 0 ? 1 : infer) / seconds_since(t0);
      }
      t0 = clock_type::now();
      train(cnn, cnn_opt, xc, r == 0 ? 1 : 10 * steps);
      const double ct = double(batch) * (r == 0 ? 1 : 10 * steps) / seconds_since(t0);
      if (r == 0) continue;
      res_train[k].push_back(tr);
      res_infer[k].push_back(inf);
      cnn_train[k].push_back(ct);
      std::printf("round %d %-13s resnet18 train %7.1f  infer %7.1f  small-cnn train %8.1f images/s\n", r, md.name,
                  tr, inf, ct);
      std::fflush(stdout);
    }
  }
  std::printf("\nmedians over %d rounds, batch %lld, %d threads (images/s; ratio to im2col)\n", rounds,
              static_cast<long long>(batch), get_num_threads());
  for (int k = 0; k < 3; ++k)
    std::printf("%-13s resnet18 train %7.1f (%.2fx)  infer %7.1f (%.2fx)  small-cnn train %8.1f (%.2fx)\n",
                modes[k].name, median(res_train[k]), median(res_train[k]) / median(res_train[0]),
                median(res_infer[k]), median(res_infer[k]) / median(res_infer[0]), median(cnn_train[k]),
                median(cnn_train[k]) / median(cnn_train[0]));
  return 0;
}

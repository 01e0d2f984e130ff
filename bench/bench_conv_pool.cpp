// A/B in one process of conv2d_relu_max_pool2x2 (one op) against relu(max_pool2d(conv2d(x))) (three ops), on the
// two layers of examples/cnn_fashion at batch 64 (1 -> 32 channels at 28x28, 32 -> 64 at 14x14; padding 1):
// forward and backward timed separately, the two forms alternating call by call. Prints medians in ms.
//   bench_conv_pool [calls=60]      (threads: NERVE_NUM_THREADS)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include <nerve/nerve.h>

using namespace nerve;

namespace {

double ms(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::max(1, std::atoi(argv[1])) : 60;
  manual_seed(0);
  struct Layer {
    const char* name;
    Tensor x, w, b, dy;
  };
  Layer layers[] = {
      {"1 -> 32, 28x28", rand({64, 1, 28, 28}), randn({32, 1, 3, 3}) * 0.3, randn({32}), randn({64, 32, 14, 14})},
      {"32 -> 64, 14x14", randn({64, 32, 14, 14}), randn({64, 32, 3, 3}) * 0.1, randn({64}), randn({64, 64, 7, 7})},
  };
  std::printf("%-18s %26s %26s\n", "layer (batch 64)", "forward ms: 3 ops -> 1 op", "backward ms: 3 ops -> 1 op");
  for (Layer& l : layers) {
    l.w.requires_grad_();
    l.b.requires_grad_();
    if (l.x.shape()[1] > 1) l.x.requires_grad_();  // (the first layer's input is the data: no gradient)
    std::vector<double> f3, f1, b3, b1;
    for (int i = 0; i < calls + 2; ++i) {
      Tensor y3, y1;
      const double a = ms([&] { y3 = relu(max_pool2d(conv2d(l.x, l.w, l.b, {1}, {1}), {2, 2})); });
      const double c = ms([&] { y3.backward(l.dy); });
      const double d = ms([&] { y1 = conv2d_relu_max_pool2x2(l.x, l.w, l.b, {1}, {1}); });
      const double e = ms([&] { y1.backward(l.dy); });
      if (i < 2) continue;  // warm-up (primitives made, buffers grown)
      f3.push_back(a), b3.push_back(c), f1.push_back(d), b1.push_back(e);
    }
    std::printf("%-18s %12.3f -> %-11.3f %12.3f -> %-11.3f\n", l.name, median(f3), median(f1), median(b3), median(b1));
  }
  return 0;
}

// Breakdown of one training step of the Keras MNIST model (784-128-10, Adam) and of single-sample inference,
// to see where the time goes. Usage: bench_mlp_step [batch] [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nerve/nerve.h>

using namespace nerve;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int64_t bs = argc > 1 ? std::atoll(argv[1]) : 32;
  set_num_threads(argc > 2 ? std::atoi(argv[2]) : 2);
  manual_seed(0);
  keras::Sequential model({keras::Rescaling(1.0 / 255, 0.0, Shape{28, 28}), keras::Flatten(),
                           keras::Dense(128, "relu"), keras::Dense(10, "softmax")});
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  Tensor x = randint(0, 256, {bs, 28, 28}, DType::u8), y = randint(0, 10, {bs});
  auto& opt = model.optimizer();
  double t_fwd = 0, t_loss = 0, t_bwd = 0, t_opt = 0;
  const int steps = 3000;
  for (int s = 0; s < steps + 300; ++s) {
    auto t0 = Clock::now();
    Tensor logits = model.forward_logits(x);
    auto t1 = Clock::now();
    Tensor loss = F::cross_entropy(logits, y);
    auto t2 = Clock::now();
    opt.zero_grad();
    loss.backward();
    auto t3 = Clock::now();
    opt.step();
    auto t4 = Clock::now();
    if (s < 300) continue;
    auto us = [](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count(); };
    t_fwd += us(t0, t1), t_loss += us(t1, t2), t_bwd += us(t2, t3), t_opt += us(t3, t4);
  }
  std::printf("batch %lld: forward %.1f us, loss %.1f us, backward %.1f us, adam %.1f us, total %.1f us/step\n",
              static_cast<long long>(bs), t_fwd / steps, t_loss / steps, t_bwd / steps, t_opt / steps,
              (t_fwd + t_loss + t_bwd + t_opt) / steps);
  NoGradGuard g;
  model.eval();
  Tensor one = narrow(x, 0, 0, 1);
  double ti = 0;
  for (int s = 0; s < 20000; ++s) {
    auto t0 = Clock::now();
    Tensor p = argmax(model(one), 1);
    if (s >= 2000) ti += std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }
  std::printf("single-sample inference %.2f us\n", ti / 18000);
  return 0;
}

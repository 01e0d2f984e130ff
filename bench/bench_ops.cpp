// Per-op overhead and matmul throughput, nerve side. Prints one JSON line per measurement so
// bench/ops.sh can pair it with bench/ops_torch.py. Usage: bench_ops [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nerve/nerve.h>

using namespace nerve;
using Clock = std::chrono::steady_clock;

// median over `reps` runs of the mean time of `inner` calls, in microseconds
static double time_us(const std::function<void()>& f, int inner, int reps = 15) {
  for (int i = 0; i < inner; ++i) f();  // warm-up
  std::vector<double> ts;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    ts.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / inner);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  set_num_threads(threads);
  manual_seed(0);
  Tensor a = randn({32, 128}), b = randn({32, 128});
  double fwd = time_us([&] { Tensor c = a + b; }, 20000);
  std::printf("{\"name\": \"add_32x128_fwd\", \"us\": %.3f}\n", fwd);
  Tensor ag = randn({32, 128}).requires_grad_(), bg = randn({32, 128}).requires_grad_();
  double fb = time_us([&] {
    Tensor c = ag + bg;
    c.backward(ones({32, 128}));
    ag.set_grad(Tensor());
    bg.set_grad(Tensor());
  }, 5000);
  std::printf("{\"name\": \"add_32x128_fwd_bwd\", \"us\": %.3f}\n", fb);

  struct Shp { const char* name; int64_t m, k, n; bool ta, tb; };
  // y = x W^T (forward), dX = dY W, dW = dY^T X
  std::vector<Shp> shapes = {{"mm_fwd_32x784x128", 32, 784, 128, false, true},
                             {"mm_dx_32x128x784", 32, 128, 784, false, false},
                             {"mm_dw_128x32x784", 128, 32, 784, true, false},
                             {"mm_1024", 1024, 1024, 1024, false, false}};
  for (const Shp& s : shapes) {
    Tensor x = s.ta ? randn({s.k, s.m}).t() : randn({s.m, s.k});
    Tensor w = s.tb ? randn({s.n, s.k}).t() : randn({s.k, s.n});
    int inner = s.m * s.n * s.k > 100000000 ? 10 : 500;
    double us = time_us([&] { Tensor y = matmul(x, w); }, inner, 9);
    std::printf("{\"name\": \"%s\", \"us\": %.3f, \"gflops\": %.1f}\n", s.name, us, 2.0 * s.m * s.n * s.k / us / 1e3);
  }
  // elementwise math on 1M floats (the output allocated each call, as in an eager program)
  Tensor big = randn({1024, 1024});
  for (const char* op : {"tanh", "sigmoid", "exp", "relu"}) {
    const std::string o = op;
    double us = time_us([&] {
      Tensor y = o == "tanh" ? tanh(big) : o == "sigmoid" ? sigmoid(big) : o == "exp" ? exp(big) : relu(big);
    }, 20, 9);
    std::printf("{\"name\": \"%s_1M\", \"us\": %.3f}\n", op, us);
  }
  // more ops on the same 1M floats (1024x1024; reductions over everything, dim 0 and dim 1), each with a PyTorch
  // twin in ops_torch.py; the *_fwd_bwd rows run sum(f(x)).backward()
  Tensor pos = abs(big) + 0.5, other = randn({1024, 1024}), row = randn({1024});
  Tensor idx = randint(0, 1024, {1024, 16});
  Tensor mask = gt(randn({1024, 1024}), zeros({}));
  auto fwd_bwd = [&](Tensor (*f)(const Tensor&)) {
    Tensor x = pos.detach().requires_grad_(true);
    Tensor l = sum(f(x));
    l.backward();
  };
  const std::vector<std::pair<const char*, std::function<void()>>> more = {
      {"log_1M", [&] { Tensor y = log(pos); }},
      {"sqrt_1M", [&] { Tensor y = sqrt(pos); }},
      {"abs_1M", [&] { Tensor y = abs(big); }},
      {"gelu_1M", [&] { Tensor y = gelu(big); }},
      {"pow2_1M", [&] { Tensor y = pow(big, 2.0); }},
      {"clamp_1M", [&] { Tensor y = clamp(big, -0.5, 0.5); }},
      {"leaky_relu_1M", [&] { Tensor y = leaky_relu(big, 0.1); }},
      {"mul_1M", [&] { Tensor y = big * other; }},
      {"div_1M", [&] { Tensor y = big / pos; }},
      {"add_row_1M", [&] { Tensor y = big + row; }},
      {"sum_1M", [&] { Tensor y = sum(big); }},
      {"sum_dim0_1M", [&] { Tensor y = sum(big, {0}); }},
      {"sum_dim1_1M", [&] { Tensor y = sum(big, {1}); }},
      {"max_1M", [&] { Tensor y = max(big); }},
      {"amax_dim0_1M", [&] { Tensor y = amax(big, {0}); }},
      {"argmax_dim1_1M", [&] { Tensor y = argmax(big, 1); }},
      {"softmax_1M", [&] { Tensor y = softmax(big, 1); }},
      {"log_softmax_1M", [&] { Tensor y = log_softmax(big, 1); }},
      {"mse_loss_1M", [&] { Tensor y = nn::F::mse_loss(big, other); }},
      {"gather_16k", [&] { Tensor y = gather(big, 1, idx); }},
      {"mul_fwd_bwd_1M", [&] { fwd_bwd([](const Tensor& x) { return x * x; }); }},
      {"gelu_fwd_bwd_1M", [&] { fwd_bwd([](const Tensor& x) { return gelu(x); }); }},
      {"log_fwd_bwd_1M", [&] { fwd_bwd([](const Tensor& x) { return log(x); }); }},
      {"softmax_fwd_bwd_1M", [&] { fwd_bwd([](const Tensor& x) { return softmax(x, 1) * x; }); }},
      {"transpose_copy_1M", [&] { Tensor y = big.t().contiguous(); }},
      {"fill_1M", [&] { other.fill_(0.5); }},
      {"add_inplace_1M", [&] { other.add_(big, 0.5); }},
      {"gt_1M", [&] { Tensor y = gt(big, other); }},
      {"eq_scalar_1M", [&] { Tensor y = eq(big, zeros({})); }},
      {"where_1M", [&] { Tensor y = where(mask, big, other); }},
      {"randn_1M", [&] { Tensor y = randn({1024, 1024}); }},
      {"rand_1M", [&] { Tensor y = rand({1024, 1024}); }},
      {"dropout_1M", [&] { Tensor y = nn::F::dropout(big, 0.5, true); }},
  };
  for (const auto& [name, f] : more) std::printf("{\"name\": \"%s\", \"us\": %.3f}\n", name, time_us(f, 10, 9));
  // optimizer steps over 1M parameters
  Tensor p1 = randn({1024, 1024}).requires_grad_(true);
  p1.set_grad(randn({1024, 1024}));
  optim::Adam adam({p1}, optim::AdamOptions{});
  std::printf("{\"name\": \"adam_1M\", \"us\": %.3f}\n", time_us([&] { adam.step(); }, 10, 9));
  optim::SGD sgd({p1}, optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
  std::printf("{\"name\": \"sgd_momentum_1M\", \"us\": %.3f}\n", time_us([&] { sgd.step(); }, 10, 9));
  return 0;
}

// One LSTM / GRU layer forward + backward at the char_lstm shape (seq 64, batch 32, in 128, hidden 256):
// milliseconds and GFLOP/s of the rnn_layer op, to tune the recurrent kernels.
//   bench_rnn [threads] [mode: lstm|gru|rnn] [reps]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <nerve/nerve.h>
#include <nerve/nn/rnn.h>

using namespace nerve;
using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::string m = argc > 2 ? argv[2] : "lstm";
  const int reps = argc > 3 ? std::atoi(argv[3]) : 20;
  set_num_threads(threads);
  const nn::RnnMode mode = m == "gru" ? nn::RnnMode::gru : m == "rnn" ? nn::RnnMode::rnn_tanh : nn::RnnMode::lstm;
  const int64_t G = m == "gru" ? 3 : m == "rnn" ? 1 : 4, T = 64, B = 32, In = 128, H = 256;
  manual_seed(0);
  Tensor x = randn({B, T, In}).requires_grad_();
  Tensor w_ih = (randn({G * H, In}) * 0.06).requires_grad_(), w_hh = (randn({G * H, H}) * 0.06).requires_grad_();
  Tensor b_ih = zeros({G * H}).requires_grad_(), b_hh = zeros({G * H}).requires_grad_();
  Tensor gy = randn({B, T, H});
  double t_fwd = 0, t_bwd = 0;
  for (int r = -3; r < reps; ++r) {  // 3 warm-up rounds
    auto t0 = clk::now();
    nn::RnnLayerOutput o = nn::rnn_layer(mode, x, {}, {}, w_ih, w_hh, b_ih, b_hh, /*batch_first=*/true);
    auto t1 = clk::now();
    o.output.backward(gy);
    auto t2 = clk::now();
    if (r >= 0) {
      t_fwd += std::chrono::duration<double>(t1 - t0).count();
      t_bwd += std::chrono::duration<double>(t2 - t1).count();
    }
    for (Tensor* p : {&x, &w_ih, &w_hh, &b_ih, &b_hh}) p->set_grad(Tensor());
  }
  t_fwd /= reps;
  t_bwd /= reps;
  // multiply-adds: forward x W_ih^T + (T-1) steps of h W_hh^T; backward the same recurrence plus dW_ih, dW_hh, dx
  const double fwd = 2.0 * (T * B * G * H * In + (T - 1) * B * G * H * H);
  const double bwd = 2.0 * (T * B * G * H * H + 2 * T * B * G * H * In + T * B * G * H * H);
  std::printf("%s threads %d: forward %.2f ms (%.0f GFLOP/s), backward %.2f ms (%.0f GFLOP/s), %.0f tokens/s\n",
              m.c_str(), threads, t_fwd * 1e3, fwd / t_fwd / 1e9, t_bwd * 1e3, bwd / t_bwd / 1e9,
              T * B / (t_fwd + t_bwd));
  return 0;
}

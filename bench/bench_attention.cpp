// Peak memory (and time) of one forward + backward of causal attention at T tokens, H heads of D dims, batch B:
// the fused scaled_dot_product_attention against the same attention written out with matmul + softmax (which
// holds the (B, H, T, T) matrices). Peer: bench/attention_torch.py (PyTorch's explicit attention).
//   ./build/bench/bench_attention [fused|explicit] [T=4096] [H=8] [D=64] [B=1]
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <nerve/nerve.h>

using namespace nerve;

namespace {

// the high-water mark of this process's resident set, MiB
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

Tensor explicit_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t T = q.shape()[2];
  Tensor s = matmul(q, transpose(k, -1, -2)) * (1.0 / std::sqrt(double(q.shape()[3])));
  s = masked_fill(s, logical_not(gt(tril(ones({T, T})), zeros({}))), -std::numeric_limits<double>::infinity());
  return matmul(softmax(s, -1), v);
}

}  // namespace

int main(int argc, char** argv) {
  const bool fused = argc < 2 || std::strcmp(argv[1], "explicit") != 0;
  const int64_t T = argc > 2 ? std::atoll(argv[2]) : 4096, H = argc > 3 ? std::atoll(argv[3]) : 8;
  const int64_t D = argc > 4 ? std::atoll(argv[4]) : 64, B = argc > 5 ? std::atoll(argv[5]) : 1;
  manual_seed(0);
  Tensor q = randn({B, H, T, D}).requires_grad_(), k = randn({B, H, T, D}).requires_grad_();
  Tensor v = randn({B, H, T, D}).requires_grad_();
  Tensor g = randn({B, H, T, D});
  const double base = peak_rss_mib();
  const auto t0 = std::chrono::steady_clock::now();
  Tensor out = fused ? scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true) : explicit_attention(q, k, v);
  const auto t1 = std::chrono::steady_clock::now();
  sum(out * g).backward();
  const auto t2 = std::chrono::steady_clock::now();
  const double peak = peak_rss_mib();
  std::printf("nerve %s attention B=%lld H=%lld T=%lld D=%lld threads=%d: peak RSS %.0f MiB (inputs %.0f MiB, "
              "+%.0f MiB for forward+backward), forward %.3f s, backward %.3f s\n",
              fused ? "fused" : "explicit", (long long)B, (long long)H, (long long)T, (long long)D, get_num_threads(),
              peak, base, peak - base, std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count());
  return 0;
}

// Uses the installed library: one umbrella header, one gradient.
#include <nerve/nerve.h>

int main() {
  nerve::Tensor x = nerve::tensor({1.f, 2.f, 3.f}).requires_grad_();
  nerve::sum(x * x).backward();
  return x.grad().to_vector<float>() == std::vector<float>{2, 4, 6} ? 0 : 1;
}

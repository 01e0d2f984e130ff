// Uses the installed library: one umbrella header (the whole public API: autograd, data readers and text
// included), one gradient, one tokenizer.
#include <nerve/nerve.h>

int main() {
  nerve::Tensor x = nerve::tensor({1.f, 2.f, 3.f}).requires_grad_();
  nerve::sum(x * x).backward();
  nerve::data::CharTokenizer tok("hello");  // nerve/data/text.h
  (void)&nerve::data::read_idx;             // nerve/data/idx.h
  const bool ok = x.grad().to_vector<float>() == std::vector<float>{2, 4, 6} && tok.decode(tok.encode("olleh")) == "olleh";
  return ok ? 0 : 1;
}

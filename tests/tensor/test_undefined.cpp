// An undefined tensor (default-constructed, or the grad() of a tensor no backward() has reached) given to any
// Tensor method or public function throws nerve::Error naming the function, never crashes; so does an allocation
// the system cannot serve. (The ops of the registry are covered by tests/ops/test_robustness.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include <nerve/nerve.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/rnn.h>
#include <nerve/nn/loss.h>
#include <nerve/optim/optim.h>

extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" const char* __tsan_default_options() { return "allocator_may_return_null=1"; }

namespace {

using namespace nerve;

void expect_error_naming(const std::string& name, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << name << ": no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << name << ": message is " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << name << ": threw " << typeid(e).name() << " (" << e.what() << "), not nerve::Error";
  }
}

TEST(Undefined, EveryTensorMethodThrowsNamingIt) {
  const Tensor u;
  Tensor m;
  const Tensor x = ones({2, 3});
  const std::vector<std::pair<std::string, std::function<void()>>> calls = {
      {"shape", [&] { (void)u.shape(); }},
      {"sizes", [&] { (void)u.sizes(); }},
      {"strides", [&] { (void)u.strides(); }},
      {"offset", [&] { (void)u.offset(); }},
      {"dim", [&] { (void)u.dim(); }},
      {"size", [&] { (void)u.size(0); }},
      {"numel", [&] { (void)u.numel(); }},
      {"dtype", [&] { (void)u.dtype(); }},
      {"is_contiguous", [&] { (void)u.is_contiguous(); }},
      {"raw_data", [&] { (void)u.raw_data(); }},
      {"data", [&] { (void)u.data<float>(); }},
      {"storage", [&] { (void)u.storage(); }},
      {"item", [&] { (void)u.item<float>(); }},
      {"to_vector", [&] { (void)u.to_vector<float>(); }},
      {"requires_grad", [&] { (void)u.requires_grad(); }},
      {"requires_grad_", [&] { m.requires_grad_(); }},
      {"is_leaf", [&] { (void)u.is_leaf(); }},
      {"grad_fn", [&] { (void)u.grad_fn(); }},
      {"grad", [&] { (void)u.grad(); }},
      {"set_grad", [&] { m.set_grad(x); }},
      {"backward", [&] { u.backward(); }},
      {"detach", [&] { (void)u.detach(); }},
      {"version", [&] { (void)u.version(); }},
      {"reshape", [&] { (void)u.reshape({-1}); }},
      {"view", [&] { (void)u.view({-1}); }},
      {"permute", [&] { (void)u.permute({0}); }},
      {"transpose", [&] { (void)u.transpose(0, 1); }},
      {"t", [&] { (void)u.t(); }},
      {"narrow", [&] { (void)u.narrow(0, 0, 1); }},
      {"select", [&] { (void)u.select(0, 0); }},
      {"expand", [&] { (void)u.expand({2}); }},
      {"squeeze", [&] { (void)u.squeeze(0); }},
      {"unsqueeze", [&] { (void)u.unsqueeze(0); }},
      {"flatten", [&] { (void)u.flatten(); }},
      {"contiguous", [&] { (void)u.contiguous(); }},
      {"clone", [&] { (void)u.clone(); }},
      {"to_dtype", [&] { (void)u.to(DType::f64); }},
      {"sum", [&] { (void)u.sum(); }},
      {"mean", [&] { (void)u.mean(); }},
      {"var", [&] { (void)u.var(); }},
      {"std", [&] { (void)u.std(); }},
      {"norm", [&] { (void)u.norm(2); }},
      {"max", [&] { (void)u.max(); }},
      {"min", [&] { (void)u.min(); }},
      {"max", [&] { (void)u.max(0); }},
      {"min", [&] { (void)u.min(0); }},
      {"argmax", [&] { (void)u.argmax(0); }},
      {"argmin", [&] { (void)u.argmin(0); }},
      {"topk", [&] { (void)u.topk(1); }},
      {"cumsum", [&] { (void)u.cumsum(0); }},
      {"softmax", [&] { (void)u.softmax(0); }},
      {"log_softmax", [&] { (void)u.log_softmax(0); }},
      {"matmul", [&] { (void)u.matmul(x); }},
      {"matmul", [&] { (void)x.matmul(u); }},
      {"exp", [&] { (void)u.exp(); }},
      {"log", [&] { (void)u.log(); }},
      {"relu", [&] { (void)u.relu(); }},
      {"sigmoid", [&] { (void)u.sigmoid(); }},
      {"tanh", [&] { (void)u.tanh(); }},
      {"abs", [&] { (void)u.abs(); }},
      {"sqrt", [&] { (void)u.sqrt(); }},
      {"pow", [&] { (void)u.pow(2.0); }},
      {"clamp", [&] { (void)u.clamp(0.0); }},
      {"tril", [&] { (void)u.tril(); }},
      {"triu", [&] { (void)u.triu(); }},
      {"masked_select", [&] { (void)u.masked_select(gt(x, scalar_tensor(0.5))); }},
      {"masked_select", [&] { (void)x.masked_select(u); }},
      {"add_", [&] { m.add_(x); }},
      {"sub_", [&] { m.sub_(x); }},
      {"mul_", [&] { m.mul_(x); }},
      {"mul_", [&] { m.mul_(2.0); }},
      {"zero_", [&] { m.zero_(); }},
      {"fill_", [&] { m.fill_(1.0); }},
      {"copy_", [&] { m.copy_(x); }},
      {"masked_fill_", [&] { m.masked_fill_(gt(x, scalar_tensor(0.5)), 1.0); }},
      {"add", [&] { (void)(u + 1.0); }},
      {"sub", [&] { (void)(1.0 - u); }},
      {"mul", [&] { (void)(u * x); }},
      {"div", [&] { (void)(x / u); }},
      {"neg", [&] { (void)(-u); }},
      {"zeros_like", [&] { (void)zeros_like(u); }},
      {"ones_like", [&] { (void)ones_like(u); }},
      {"empty_like", [&] { (void)empty_like(u); }},
  };
  for (const auto& [name, f] : calls) expect_error_naming(name, f);
  EXPECT_EQ(u.to_string(), "tensor(undefined)");
}

// The README's update pattern before any backward, and two_moons' p->grad().zero_() after zero_grad()
TEST(Undefined, UpdatesWithAMissingGradient) {
  Tensor w = randn({3, 4}).requires_grad_();
  EXPECT_FALSE(w.grad().defined());
  expect_error_naming("shape", [&] { (void)w.grad().shape(); });
  {
    NoGradGuard g;
    expect_error_naming("add_", [&] { w.add_(w.grad(), -0.1); });
  }
  expect_error_naming("zero_", [&] { w.grad().zero_(); });
  Tensor y = ones({3, 4});
  expect_error_naming("add_", [&] { y.add_(Tensor()); });
  expect_error_naming("copy_", [&] { y.copy_(Tensor()); });
}

TEST(Undefined, LossesAndLayers) {
  const Tensor u, x = randn({4, 3}), labels = from_vector<int64_t>({0, 1, 2, 0});
  namespace F = nn::functional;
  expect_error_naming("cross_entropy", [&] { (void)F::cross_entropy(u, labels); });
  expect_error_naming("cross_entropy", [&] { (void)F::cross_entropy(x, u); });
  expect_error_naming("mse_loss", [&] { (void)F::mse_loss(u, x); });
  expect_error_naming("mse_loss", [&] { (void)F::mse_loss(x, u); });
  nn::Linear fc(3, 2);
  expect_error_naming("linear", [&] { (void)fc.forward(u); });
  nn::Embedding emb(5, 3);
  expect_error_naming("Embedding", [&] { (void)emb.forward(u); });
  nn::LSTM lstm(3, 4);
  expect_error_naming("LSTM", [&] { (void)lstm.forward(u, std::nullopt); });
  nn::GRU gru(3, 4);
  expect_error_naming("GRU", [&] { (void)gru.forward(u, Tensor()); });
  nn::LSTMCell cell(3, 4);
  expect_error_naming("LSTMCell", [&] { (void)cell.forward(u, std::nullopt); });
  nn::Dropout drop(0.5);
  expect_error_naming("dropout", [&] { (void)drop.forward(u); });
  keras::Sequential model({keras::Dense(2)});
  expect_error_naming("Sequential", [&] { (void)model(u); });
  auto sd = fc.state_dict();
  for (auto& kv : sd) kv.second = u;
  expect_error_naming("load_state_dict", [&] { fc.load_state_dict(sd); });
  expect_error_naming("gradcheck", [&] { (void)gradcheck([](const std::vector<Tensor>& v) { return v[0]; }, {u}); });
  expect_error_naming("from_blob", [&] { (void)from_blob(nullptr, {3}, DType::f32); });
  expect_error_naming("arange", [&] { (void)arange(0, INFINITY, 1); });
  expect_error_naming("arange", [&] { (void)arange(0, 1e300, 1e-300); });
}

TEST(Allocation, FailureIsANerveErrorWithTheSize) {
  // 2^48 bytes: more than any machine's memory and address space for user programs
  try {
    (void)zeros({int64_t{1} << 46}, DType::f32);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("281474976710656 bytes"), std::string::npos) << e.what();
  }
  try {
    (void)empty({int64_t{1} << 40, int64_t{1} << 40});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  EXPECT_EQ(zeros({3}).sum().item<float>(), 0.f);  // and the allocator still works afterwards
}

}  // namespace

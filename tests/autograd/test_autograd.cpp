// The autograd engine: backward from scalars and with explicit gradients, accumulation into leaves,
// retain_graph, NoGradGuard, detach, saved-tensor version checks, long chains, and memory returning to baseline.
#include <gtest/gtest.h>

#include <unordered_set>

#include <nerve/nerve.h>
#include "golden/golden_reader.h"

namespace {

using namespace nerve;

Tensor f64(const std::vector<double>& v) { return from_vector<double>(v); }
std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }
using nerve::testing::error_of;

TEST(Autograd, BackwardFromScalar) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor y = sum(x * x * x);  // dy/dx = 3x^2
  EXPECT_TRUE(y.requires_grad());
  EXPECT_NE(y.grad_fn(), nullptr);
  y.backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{3, 12, 27}));
  EXPECT_FALSE(x.grad().requires_grad());
}

TEST(Autograd, BackwardWithExplicitGradient) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor y = x * 2.0 + 1.0;
  y.backward(f64({1, 10, 100}));
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{2, 20, 200}));
}

TEST(Autograd, BackwardErrors) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  std::string m = error_of([&] { (x * 2.0).backward(); });
  EXPECT_NE(m.find("only for scalar outputs"), std::string::npos) << m;
  EXPECT_NE(m.find("[3]"), std::string::npos) << m;
  m = error_of([&] { (x * 2.0).backward(f64({1, 2})); });
  EXPECT_NE(m.find("[2] != tensor shape [3]"), std::string::npos) << m;
  m = error_of([&] { sum(f64({1, 2})).backward(); });
  EXPECT_NE(m.find("does not require grad"), std::string::npos) << m;
}

TEST(Autograd, BackwardFromALeaf) {
  Tensor x = f64({1, 2}).requires_grad_();
  x.backward(f64({3, 4}));
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{3, 4}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  sum(x * x).backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{2, 4, 6}));
  sum(x * 3.0).backward();  // a second graph adds into the same .grad()
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{5, 7, 9}));
  x.set_grad(Tensor());
  sum(x).backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{1, 1, 1}));
}

TEST(Autograd, LeafGradientDoesNotAliasTheCallersGradient) {
  // accumulating into .grad() must never write into the tensor the caller passed to backward()
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor g = f64({5, 6});
  x.backward(g);
  x.backward(g);
  EXPECT_EQ(vec(g), (std::vector<double>{5, 6}));
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{10, 12}));
}

TEST(Autograd, DiamondAndSharedInputs) {
  Tensor x = f64({2, -1}).requires_grad_();
  Tensor a = x * 3.0, b = exp(x), c = a * b + a;  // dc/dx = 3e^x + 3x e^x + 3
  sum(c).backward();
  std::vector<double> g = vec(x.grad());
  for (int i = 0; i < 2; ++i) {
    double v = i == 0 ? 2.0 : -1.0;
    EXPECT_NEAR(g[i], 3 * std::exp(v) + 3 * v * std::exp(v) + 3, 1e-12);
  }
}

TEST(Autograd, MultiOutputOpWithUnusedOutputs) {
  Tensor x = f64({1, 2, 3, 4, 5}).requires_grad_();
  std::vector<Tensor> parts = chunk(x, 3);  // [1,2] [3,4] [5]
  sum(parts[1] * 2.0).backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{0, 0, 2, 2, 0}));
}

TEST(Autograd, RetainGraph) {
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor y = sum(x * x);
  y.backward({}, true);
  y.backward({}, true);  // works: the saved tensors were kept
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{4, 8}));
  y.backward();  // last use frees them
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{6, 12}));
  std::string m = error_of([&] { y.backward(); });
  EXPECT_NE(m.find("MulBackward"), std::string::npos) << m;
  EXPECT_NE(m.find("second time"), std::string::npos) << m;
  EXPECT_NE(m.find("retain_graph"), std::string::npos) << m;
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{6, 12}));
}

TEST(Autograd, EngineIsUsableAfterAFailedBackward) {
  // a backward that throws midway must not leave stale dependency counts on nodes that later graphs share
  // (the leaf's AccumulateGrad node is shared by every graph that uses the leaf)
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor y = sum(x * x);
  y.backward();
  EXPECT_FALSE(error_of([&] { y.backward(); }).empty());
  x.set_grad(Tensor());
  sum(x * 3.0).backward();  // y (and its graph) is still alive
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{3, 3}));
}

TEST(Autograd, NoGradGuard) {
  Tensor x = f64({1, 2}).requires_grad_();
  EXPECT_TRUE(grad_enabled());
  {
    NoGradGuard g;
    EXPECT_FALSE(grad_enabled());
    Tensor y = exp(x) * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      NoGradGuard inner;
      EXPECT_FALSE(grad_enabled());
    }
    EXPECT_FALSE(grad_enabled());  // the inner guard restores the outer state, not "on"
    EXPECT_FALSE(error_of([&] { y.backward(f64({1, 1})); }).empty());
  }
  EXPECT_TRUE(grad_enabled());
  try {
    NoGradGuard g;
    throw Error("boom");
  } catch (const Error&) {
  }
  EXPECT_TRUE(grad_enabled());  // restored on unwinding
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Autograd, Detach) {
  Tensor x = f64({1, 2, 3}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.grad_fn(), nullptr);
  EXPECT_EQ(d.storage(), y.storage());  // shares data
  Tensor z = sum(y * d);                // gradient flows only through y: dz/dx = 2 * d = 4x
  z.backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{4, 8, 12}));
  {
    NoGradGuard g;
    d.add_(f64({1, 1, 1}));
  }
  EXPECT_EQ(vec(y), (std::vector<double>{3, 5, 7}));  // same storage
}

TEST(Autograd, ModifyingASavedOutputInPlaceIsCaught) {
  Tensor x = f64({0.5, 1.0}).requires_grad_();
  Tensor y = exp(x);  // ExpBackward saves its output y
  Tensor z = sum(y);
  {
    NoGradGuard g;
    y.add_(f64({1, 1}));
  }
  std::string m = error_of([&] { z.backward(); });
  EXPECT_NE(m.find("ExpBackward"), std::string::npos) << m;
  EXPECT_NE(m.find("modified by an in-place operation"), std::string::npos) << m;
  EXPECT_NE(m.find("[2] f64"), std::string::npos) << m;
}

TEST(Autograd, ModifyingASavedInputInPlaceIsCaught) {
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor a = x * 2.0;
  Tensor b = a * a;  // MulBackward saves a
  {
    NoGradGuard g;
    a.mul_(3.0);
  }
  std::string m = error_of([&] { sum(b).backward(); });
  EXPECT_NE(m.find("MulBackward"), std::string::npos) << m;
  EXPECT_NE(m.find("in-place"), std::string::npos) << m;
}

TEST(Autograd, UpdatingALeafBeforeBackwardIsCaught) {
  // the classic mistake: an optimizer step between forward and backward
  Tensor w = f64({1, 2}).requires_grad_();
  Tensor loss = sum(w * w);  // MulBackward saves w (a constant factor would be all it needed for w * c)
  {
    NoGradGuard g;
    w.add_(f64({1, 1}), -0.1);
  }
  EXPECT_NE(error_of([&] { loss.backward(); }).find("MulBackward"), std::string::npos);
}

TEST(Autograd, InPlaceOnATensorNobodySavedIsFine) {
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor y = x + 1.0;  // add saves nothing
  Tensor z = sum(y * 2.0);
  {
    NoGradGuard g;
    y.add_(f64({5, 5}));
  }
  z.backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{2, 2}));
}

TEST(Autograd, ChainOfTenThousandOps) {
  Tensor x = f64({1, -2, 3}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 5000; ++i) y = (y * 2.0) * 0.5;  // powers of two: exact in f64
  sum(y * y).backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{2, -4, 6}));
}

TEST(Autograd, TenThousandUsesOfOneLeaf) {
  Tensor x = f64({1, 2}).requires_grad_();
  Tensor y = zeros({2}, DType::f64);
  for (int i = 0; i < 10000; ++i) y = y + x;
  sum(y).backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{10000, 10000}));
}

TEST(Autograd, LongChainIsFreedWithoutBackward) {
  // destroying a deep graph must not recurse once per node
  std::weak_ptr<Node> first;
  {
    Tensor x = ones({2}).requires_grad_();
    Tensor y = exp(x);
    first = y.grad_fn();
    for (int i = 0; i < 10000; ++i) y = tanh(y);
  }
  EXPECT_TRUE(first.expired());
}

TEST(Autograd, ZeroGradSetsToNoneOrZeroesInPlace) {
  Tensor a = f64({1, 2}).requires_grad_(), b = f64({3}).requires_grad_(), c = f64({4}).requires_grad_();
  sum(a * b).backward();  // c gets no gradient
  Tensor ga = a.grad();
  zero_grad(std::vector<Tensor>{a, b, c}, false);
  EXPECT_EQ(vec(a.grad()), (std::vector<double>{0, 0}));
  EXPECT_EQ(a.grad().impl_ptr(), ga.impl_ptr());  // zeroed in place, not replaced
  EXPECT_FALSE(c.grad().defined());
  zero_grad(std::vector<Tensor>{a, b, c});
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

// ------------------------------------------------------------------ gradcheck
TEST(Gradcheck, F64InputsAndIntegerInputsAreAccepted) {
  Tensor idx = from_vector<int64_t>({2, 0});
  GradcheckResult r = gradcheck([](auto& in) { return index_select(tanh(in[0]), 0, in[1]); },
                                {randn({3, 2}, DType::f64), idx});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Gradcheck, AnF32InputIsRejectedNamingItsIndexAndDtype) {
  // gradcheck perturbs its inputs in place as doubles: an f32 buffer would be overrun, not checked
  auto f = [](auto& in) { return in[0] * in[1]; };
  std::string m = error_of([&] { gradcheck(f, {randn({3}, DType::f64), randn({2, 3})}); });
  EXPECT_NE(m.find("gradcheck: input 1 is f32 [2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("expected f64"), std::string::npos) << m;
}

// ------------------------------------------------------------------ memory
void collect_graph(const std::shared_ptr<Node>& root, std::vector<std::weak_ptr<Node>>& out) {
  std::unordered_set<Node*> seen;
  std::vector<std::shared_ptr<Node>> stack{root};
  while (!stack.empty()) {
    std::shared_ptr<Node> n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    out.push_back(n);
    for (const Edge& e : n->next_edges) stack.push_back(e.fn);
  }
}

struct Model {
  Tensor w = randn({4, 3}, DType::f64).requires_grad_();
  Tensor b = zeros({4}, DType::f64).requires_grad_();
};

// One SGD step; records weak handles to everything the step created.
void train_step(Model& m, std::vector<std::weak_ptr<Node>>& nodes, std::vector<std::weak_ptr<TensorImpl>>& impls,
                std::vector<std::weak_ptr<Storage>>& storages) {
  Tensor x = randn({8, 3}, DType::f64), target = randn({8, 4}, DType::f64);
  Tensor loss;
  std::weak_ptr<Storage> hidden;
  {
    Tensor h = linear(x, m.w, m.b);
    Tensor a = tanh(h);  // TanhBackward saves a
    Tensor d = a - target;
    loss = mean(d * d);
    for (const Tensor& t : {h, a, d}) {
      impls.push_back(t.impl_ptr());
      storages.push_back(t.storage());
    }
    hidden = a.storage();
  }
  EXPECT_FALSE(hidden.expired()) << "a tensor saved for backward was freed before backward";
  collect_graph(loss.grad_fn(), nodes);
  EXPECT_GE(nodes.size(), 7u);
  loss.backward();
  EXPECT_TRUE(hidden.expired()) << "backward did not release the saved tensors";
  impls.push_back(loss.impl_ptr());
  {
    NoGradGuard g;
    m.w.add_(m.w.grad(), -0.1);
    m.b.add_(m.b.grad(), -0.1);
  }
  m.w.set_grad(Tensor());
  m.b.set_grad(Tensor());
}

TEST(AutogradMemory, IntermediatesAndGraphAreFreedAfterAStep) {
  manual_seed(1);
  Model m;
  std::vector<std::weak_ptr<Node>> nodes;
  std::vector<std::weak_ptr<TensorImpl>> impls;
  std::vector<std::weak_ptr<Storage>> storages;
  train_step(m, nodes, impls, storages);
  for (const auto& n : nodes) EXPECT_TRUE(n.expired()) << "a graph node outlived its step";
  for (const auto& t : impls) EXPECT_TRUE(t.expired()) << "an intermediate tensor outlived its step";
  for (const auto& s : storages) EXPECT_TRUE(s.expired()) << "an intermediate storage outlived its step";
  EXPECT_TRUE(m.w.grad_fn() == nullptr && !m.w.grad().defined());
}

TEST(AutogradMemory, CachedBytesAreStableAcrossSteps) {
  manual_seed(2);
  Model m;
  std::vector<std::weak_ptr<Node>> nodes;
  std::vector<std::weak_ptr<TensorImpl>> impls;
  std::vector<std::weak_ptr<Storage>> storages;
  train_step(m, nodes, impls, storages);  // warm-up: fills the allocator's cache
  size_t baseline = allocator_cached_bytes();
  EXPECT_GT(baseline, 0u);
  for (int step = 0; step < 5; ++step) {
    train_step(m, nodes, impls, storages);
    EXPECT_EQ(allocator_cached_bytes(), baseline) << "step " << step << ": buffers were not returned or reused";
  }
  for (const auto& s : storages) EXPECT_TRUE(s.expired());
}

TEST(AutogradMemory, SavedOutputDoesNotKeepItsNodeAlive) {
  // ExpBackward saves its output; holding the output's impl there would be a cycle node -> impl -> node
  std::weak_ptr<Node> node;
  std::weak_ptr<TensorImpl> out;
  {
    Tensor x = f64({1, 2}).requires_grad_();
    Tensor y = exp(x);
    node = y.grad_fn();
    out = y.impl_ptr();
  }
  EXPECT_TRUE(node.expired());
  EXPECT_TRUE(out.expired());
}

}  // namespace

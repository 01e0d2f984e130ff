// Module::save / load (safetensors) and load_state_dict's strict rules: every problem listed in one error, and
// nothing copied unless everything fits.
#include "io_test_util.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/core/rng.h"
#include "nerve/io/safetensors.h"
#include "nerve/io/torch.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/sequential.h"
#include "nerve/ops/ops.h"

namespace nerve {
namespace {

using test::error_of;
using test::same_bits;

struct Net : nn::Module {
  explicit Net(int64_t hidden = 5) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(3, hidden));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, 2));
  }
  Tensor forward(const Tensor& x) override { return (*fc2)(tanh((*fc1)(x))); }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<nn::Linear> fc1, fc2;
};

TEST(ModuleFile, SaveLoadGivesTheSameBits) {
  test::TempDir dir;
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  Tensor x = randn({4, 3});
  a.save(dir / "net.safetensors");
  Tensor handle = b.fc1->weight;
  b.load(dir / "net.safetensors");
  EXPECT_TRUE(same_bits(a(x), b(x)));
  EXPECT_TRUE(same_bits(handle, a.fc1->weight));  // loaded into the existing tensors
  io::SafetensorsFile f = io::read_safetensors(dir / "net.safetensors");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(f.tensors[0].first, "fc1.weight");
  // training goes on from the loaded values (they are ordinary parameters, writable)
  b.zero_grad();
  b(x).sum().backward();
  EXPECT_TRUE(b.fc1->weight.grad().defined());
  NoGradGuard no_grad;
  b.fc1->weight.add_(b.fc1->weight.grad(), -0.1);
}

TEST(ModuleFile, LoadConvertsDtypes) {
  Net a, b;
  nn::StateDict sd;
  for (auto& [n, t] : a.state_dict()) sd.emplace_back(n, t.to(DType::f64));
  b.load_state_dict(sd);
  EXPECT_TRUE(same_bits(a.fc2->bias, b.fc2->bias));
}

TEST(LoadStateDict, StrictListsEveryProblemTogetherAndCopiesNothing) {
  Net a, b(4);
  nn::StateDict sd = b.state_dict();  // fc1 has 4 hidden units, a has 5
  sd.erase(sd.begin() + 3);           // no fc2.bias
  sd.emplace_back("fc3.weight", zeros({1}));
  sd.emplace_back("extra", zeros({2, 2}, DType::i64));
  Tensor before = a.fc2->weight.clone();
  EXPECT_EQ(error_of([&] { a.load_state_dict(sd); }),
            "load_state_dict: Net: missing keys: 'fc2.bias' ([2] f32); unexpected keys: 'fc3.weight' ([1] f32), "
            "'extra' ([2, 2] i64); size mismatches: 'fc1.weight' (state dict [4, 3], model [5, 3]), 'fc1.bias' "
            "(state dict [4], model [5]), 'fc2.weight' (state dict [2, 4], model [2, 5])");
  EXPECT_TRUE(same_bits(a.fc2->weight, before));
  // not strict: missing and unexpected keys are fine, a shape mismatch is not
  EXPECT_EQ(error_of([&] { a.load_state_dict(sd, false); }),
            "load_state_dict: Net: size mismatches: 'fc1.weight' (state dict [4, 3], model [5, 3]), 'fc1.bias' "
            "(state dict [4], model [5]), 'fc2.weight' (state dict [2, 4], model [2, 5])");
  nn::StateDict partial{{"fc2.bias", ones({2})}, {"other", ones({1})}};
  a.load_state_dict(partial, false);
  EXPECT_EQ(a.fc2->bias.to_vector<float>(), (std::vector<float>{1.f, 1.f}));
  EXPECT_EQ(error_of([&] { a.load_state_dict({{"fc2.bias", ones({2})}, {"fc2.bias", ones({2})}}, false); }),
            "load_state_dict: key 'fc2.bias' appears twice in the state dict");
}

TEST(ModuleFile, LoadErrorsNameTheFile) {
  test::TempDir dir;
  Net a;
  io::save_safetensors({{"fc1.weight", zeros({5, 3})}}, dir / "part.safetensors");
  EXPECT_NE(error_of([&] { a.load(dir / "part.safetensors"); }).find("missing keys: 'fc1.bias'"), std::string::npos);
  a.load(dir / "part.safetensors", false);
  EXPECT_EQ(a.fc1->weight.sum().item<float>(), 0.f);
  EXPECT_NE(error_of([&] { a.load(dir / "none.safetensors"); }).find("none.safetensors: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace nerve

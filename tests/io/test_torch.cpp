// load_torch on files written by PyTorch 1.13 (tests/io/make_torch_files.py): an MLP and the char LSTM model give
// PyTorch's logits, shared storages and strided views come back as views, every dtype keeps its bits, and hostile
// or broken files are refused with the file and the reason.
#include "io_test_util.h"
#include "nerve/io/safetensors.h"
#include "nerve/io/torch.h"
#include "nerve/nn/embedding.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/rnn.h"
#include "nerve/ops/ops.h"

namespace nerve {
namespace {

using test::error_of;
using test::same_bits;

std::string data(const std::string& name) { return std::string(NERVE_TEST_DATA_DIR) + "/io/data/" + name; }

Tensor get(const nn::StateDict& sd, const std::string& name) {
  for (auto& [n, t] : sd)
    if (n == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<float>(); }

struct Mlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1 = register_module("fc1", std::make_shared<nn::Linear>(8, 16));
  std::shared_ptr<nn::Linear> fc2 = register_module("fc2", std::make_shared<nn::Linear>(16, 16));
  std::shared_ptr<nn::Linear> fc3 = register_module("fc3", std::make_shared<nn::Linear>(16, 4));
  Tensor forward(const Tensor& x) override { return (*fc3)(relu((*fc2)(relu((*fc1)(x))))); }
};

TEST(TorchLoad, MlpGivesPyTorchsLogits) {
  nn::StateDict sd = io::load_torch(data("mlp.pt"));
  ASSERT_EQ(sd.size(), 6u);
  EXPECT_EQ(sd[0].first, "fc1.weight");
  Mlp m;
  m.load_state_dict(sd);
  nn::StateDict want = io::load_safetensors(data("mlp_expected.safetensors"));
  Tensor logits = m(get(want, "x"));
  EXPECT_LE(max_abs_diff(logits, get(want, "logits")), 1e-6);
}

// examples/char_lstm's model (embed, lstm, fc), smaller: torch's nn.LSTM names load into nn::LSTM as they are
struct CharLstm : nn::Module {
  std::shared_ptr<nn::Embedding> embed = register_module("embed", std::make_shared<nn::Embedding>(12, 6));
  std::shared_ptr<nn::LSTM> lstm = register_module(
      "lstm", std::make_shared<nn::LSTM>(nn::RNNOptions{.input_size = 6, .hidden_size = 10, .batch_first = true}));
  std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(10, 12));
  Tensor forward(const Tensor& x) override { return fc->forward(lstm->forward(embed->forward(x), std::nullopt).first); }
};

TEST(TorchLoad, CharLstmGivesPyTorchsLogits) {
  nn::StateDict sd = io::load_torch(data("char_lstm.pt"));
  std::vector<std::string> names;
  for (auto& [n, t] : sd) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"embed.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0",
                                             "lstm.bias_ih_l0", "lstm.bias_hh_l0", "fc.weight", "fc.bias"}));
  CharLstm m;
  m.load_state_dict(sd);
  nn::StateDict want = io::load_safetensors(data("char_lstm_expected.safetensors"));
  Tensor logits = m(get(want, "tokens"));
  EXPECT_EQ(logits.shape(), (Shape{3, 7, 12}));
  EXPECT_LE(max_abs_diff(logits, get(want, "logits")), 1e-6);
}

TEST(TorchLoad, SharedStoragesAndStridedViews) {
  nn::StateDict sd = io::load_torch(data("tied.pt"));
  nn::StateDict want = io::load_safetensors(data("tied_expected.safetensors"));
  ASSERT_EQ(sd.size(), want.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, want[i].first);
    EXPECT_TRUE(same_bits(sd[i].second, want[i].second)) << sd[i].first;
  }
  Tensor base = get(sd, "base");
  for (const char* n : {"same", "transposed", "slice", "every_other", "row", "expanded"})
    EXPECT_EQ(get(sd, n).storage(), base.storage()) << n;  // one storage, as in the file
  EXPECT_NE(get(sd, "other").storage(), base.storage());
  EXPECT_EQ(get(sd, "transposed").strides(), (Shape{1, 6}));
  EXPECT_EQ(get(sd, "slice").offset(), 8);
  EXPECT_EQ(get(sd, "every_other").strides(), (Shape{6, 2}));
  EXPECT_EQ(get(sd, "expanded").strides(), (Shape{0, 0}));
  // a weight-tied model: the output layer's weight is the embedding's
  nn::StateDict tied = io::load_torch(data("tied_model.pt"));
  ASSERT_EQ(tied.size(), 2u);
  EXPECT_EQ(tied[0].second.storage(), tied[1].second.storage());
}

TEST(TorchLoad, EveryDtypeKeepsItsBits) {
  nn::StateDict sd = io::load_torch(data("dtypes.pt"));
  nn::StateDict want = io::load_safetensors(data("dtypes_expected.safetensors"));
  ASSERT_EQ(sd.size(), want.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, want[i].first);
    EXPECT_TRUE(same_bits(sd[i].second, want[i].second)) << sd[i].first;
  }
  EXPECT_EQ(get(sd, "bf16").dtype(), DType::bf16);
  EXPECT_EQ(get(sd, "scalar").dim(), 0);
  EXPECT_EQ(get(sd, "i64").to_vector<int64_t>()[4], INT64_MIN);
}

TEST(TorchLoad, NestedCheckpointIsFlattened) {
  nn::StateDict sd = io::load_torch(data("checkpoint.pt"));
  ASSERT_EQ(sd.size(), 6u);  // epoch, lr, note and flags are not tensors
  EXPECT_EQ(sd[0].first, "model.fc1.weight");
  EXPECT_TRUE(same_bits(sd[5].second, io::load_torch(data("mlp.pt"))[5].second));
}

TEST(TorchLoad, StorageReadFromAHandMadeArchive) {
  nn::StateDict sd = io::load_torch(data("custom_ok.pt"));
  EXPECT_EQ(sd[0].second.to_vector<float>(), (std::vector<float>{2.f, 3.f, 4.f}));
}

std::string load_error(const std::string& name) {
  return error_of([&] { io::load_torch(data(name)); });
}

TEST(TorchLoad, RefusesCodeAndUnknownOpcodes) {
  const std::string e = load_error("evil_global.pt");
  EXPECT_NE(e.find("load_torch: " + data("evil_global.pt") + ": evil_global/data.pkl: class 'posix.system' is not allowed"),
            std::string::npos) << e;
  EXPECT_NE(e.find("(at byte "), std::string::npos);
  EXPECT_NE(load_error("bad_opcode.pt").find("pickle opcode INST (0x69) is not allowed in a state dict (at byte 3)"),
            std::string::npos) << load_error("bad_opcode.pt");
}

TEST(TorchLoad, RefusesBrokenFiles) {
  EXPECT_NE(load_error("legacy.pt").find("legacy format of torch < 1.6"), std::string::npos) << load_error("legacy.pt");
  EXPECT_NE(load_error("int16.pt").find("class 'torch.ShortStorage': nerve has no dtype for its elements"),
            std::string::npos) << load_error("int16.pt");
  EXPECT_EQ(load_error("missing_entry.pt"), "load_torch: " + data("missing_entry.pt") +
                                                ": zip entry 'missing_entry/data/1' (storage of tensor 'fc1.bias') is missing");
  EXPECT_NE(load_error("view_outside.pt").find("a view of size [2, 2], stride [2, 1], offset 1 reaches element 4 of "
                                               "storage '0', which has 4"),
            std::string::npos) << load_error("view_outside.pt");
  EXPECT_NE(load_error("storage_short.pt").find("zip entry 'archive/data/0' (storage of tensor 'w') holds 16 bytes, "
                                                "the pickle claims 6 f32 elements"),
            std::string::npos) << load_error("storage_short.pt");
  EXPECT_EQ(load_error("nothing.pt"), "load_torch: " + data("nothing.pt") + ": cannot open (No such file or directory)");
  EXPECT_NE(load_error("mlp_expected.safetensors").find(": not a zip archive ("), std::string::npos);
}

// Every prefix and many corruptions of a real checkpoint: errors, never a crash (the fuzzer goes further).
TEST(TorchLoad, TruncatedAndCorruptedFilesOnlyThrow) {
  std::vector<uint8_t> good = test::read_bytes(data("mlp.pt"));
  for (size_t n = 0; n < good.size(); n += 7)
    EXPECT_NE(error_of([&] { io::parse_torch(std::span(good.data(), n), "cut"); }), "") << n;
  uint64_t state = 12345;
  for (int k = 0; k < 300; ++k) {
    std::vector<uint8_t> bad = good;
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    bad[(state >> 33) % bad.size()] ^= static_cast<uint8_t>(1 + (state >> 13) % 255);
    try {
      io::parse_torch(bad, "flip");
    } catch (const nerve::Error&) {
    }
  }
}

}  // namespace
}  // namespace nerve

namespace nerve {
namespace {

TEST(TorchLoad, EmptyFileAndEmptyBytes) {
  test::TempDir dir;
  test::write_bytes(dir / "empty.pt", {});
  EXPECT_NE(test::error_of([&] { io::load_torch(dir / "empty.pt"); }).find(": not a zip archive ("), std::string::npos);
  EXPECT_NE(test::error_of([] { io::parse_torch({}, "none"); }).find("load_torch: none: no <folder>/data.pkl entry in the zip"),
            std::string::npos);
}

}  // namespace
}  // namespace nerve

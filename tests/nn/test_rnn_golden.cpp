// LSTM / GRU / RNN / cells / Embedding against PyTorch: outputs, final states and every gradient (input, initial
// states, all parameters), in f64 (tight) and f32 (the fast gate kernels), from tests/golden/rnn_golden.txt.
#include <memory>

#include <nerve/nn/embedding.h>
#include <nerve/nn/rnn.h>

#include "golden/golden_reader.h"

using namespace nerve;
using namespace nerve::nn;
using GCase = nerve::golden::Case;

namespace {

struct Tol {
  double atol, rtol;
};
// Every element of got within atol + rtol * |want| (nerve::testing::all_close), shapes equal.
void expect_close(const Tensor& got, const golden::GTensor& want, double atol, double rtol, const std::string& what) {
  EXPECT_TRUE(nerve::testing::all_close(got, want.tensor(DType::f64), atol, rtol)) << what;
}

Tol tol_for(DType d) { return d == DType::f64 ? Tol{1e-12, 1e-10} : Tol{3e-6, 3e-5}; }

// Loads the case's parameters by their PyTorch names; every module parameter must be in the file and vice versa.
void load_params(Module& m, const GCase& c, DType dt) {
  StateDict sd;
  size_t in_file = 0;
  for (const golden::GTensor& g : c.tensors)
    if (g.name.rfind("weight_", 0) == 0 || g.name.rfind("bias_", 0) == 0) ++in_file;
  for (auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(c.has(name)) << c.name << ": module parameter " << name << " is not a PyTorch parameter";
    ASSERT_EQ(p.shape(), c.at(name).shape) << c.name << ": " << name;
    sd.emplace_back(name, c.at(name).to(dt));
  }
  ASSERT_EQ(sd.size(), in_file) << c.name << ": parameter count differs from PyTorch";
  m.load_state_dict(sd);
}

Tensor input(const GCase& c, const std::string& k, DType dt) {
  return c.has(k) ? c.at(k).to(dt).requires_grad_() : Tensor();
}

void check_grads(Module& m, const GCase& c, const std::map<std::string, Tensor>& inputs, Tol tol,
                 const std::string& tag) {
  for (auto& [k, t] : inputs)
    if (t.defined()) expect_close(t.grad(), c.at("grad." + k), tol.atol, tol.rtol, tag + " grad." + k);
  for (auto& [name, p] : m.named_parameters())
    expect_close(p.grad(), c.at("grad." + name), tol.atol, tol.rtol, tag + " grad." + name);
}

void run_layer_case(const GCase& c, DType dt) {
  const std::string tag = c.name + " " + dtype_name(dt);
  RNNOptions o{.input_size = c.num("input"),
               .hidden_size = c.num("hidden"),
               .num_layers = c.num("layers"),
               .bias = c.num("bias") == 1,
               .batch_first = c.num("batch_first") == 1,
               .bidirectional = c.num("bidir") == 1,
               .nonlinearity = c.kind == "rnn_relu" ? Nonlinearity::relu : Nonlinearity::tanh,
               .dtype = dt};
  std::shared_ptr<RNNBase> m;
  if (c.kind == "lstm") m = std::make_shared<LSTM>(o);
  else if (c.kind == "gru") m = std::make_shared<GRU>(o);
  else m = std::make_shared<RNN>(o);
  load_params(*m, c, dt);
  Tensor x = input(c, "x", dt), h0 = input(c, "h0", dt), c0 = input(c, "c0", dt);
  Tensor out, hn, cn;
  if (auto* lstm = dynamic_cast<LSTM*>(m.get())) {
    auto [y, st] = lstm->forward(x, h0.defined() ? std::optional(LSTMState{h0, c0}) : std::nullopt);
    out = y, hn = st.h, cn = st.c;
  } else if (auto* gru = dynamic_cast<GRU*>(m.get())) {
    std::tie(out, hn) = gru->forward(x, h0);
  } else {
    std::tie(out, hn) = dynamic_cast<RNN*>(m.get())->forward(x, h0);
  }
  Tol tol = tol_for(dt);
  expect_close(out, c.at("out"), tol.atol, tol.rtol, tag + " out");
  expect_close(hn, c.at("hn"), tol.atol, tol.rtol, tag + " hn");
  Tensor loss = sum(out * c.at("gout").to(dt)) + sum(hn * c.at("ghn").to(dt));
  if (c.kind == "lstm") {
    expect_close(cn, c.at("cn"), tol.atol, tol.rtol, tag + " cn");
    loss = loss + sum(cn * c.at("gcn").to(dt));
  }
  loss.backward();
  check_grads(*m, c, {{"x", x}, {"h0", h0}, {"c0", c0}}, tol, tag);
}

void run_cell_case(const GCase& c, DType dt) {
  const std::string tag = c.name + " " + dtype_name(dt);
  const std::string base = c.kind.substr(0, c.kind.size() - 5);
  RNNCellOptions o{.input_size = c.num("input"),
                   .hidden_size = c.num("hidden"),
                   .bias = c.num("bias") == 1,
                   .nonlinearity = base == "rnn_relu" ? Nonlinearity::relu : Nonlinearity::tanh,
                   .dtype = dt};
  Tensor x = input(c, "x", dt), h0 = input(c, "h0", dt), c0 = input(c, "c0", dt);
  Tol tol = tol_for(dt);
  std::shared_ptr<Module> m;
  Tensor hn, cn;
  if (base == "lstm") {
    auto cell = std::make_shared<LSTMCell>(o);
    load_params(*cell, c, dt);
    LSTMState s = cell->forward(x, h0.defined() ? std::optional(LSTMState{h0, c0}) : std::nullopt);
    hn = s.h, cn = s.c, m = cell;
  } else if (base == "gru") {
    auto cell = std::make_shared<GRUCell>(o);
    load_params(*cell, c, dt);
    hn = cell->forward(x, h0), m = cell;
  } else {
    auto cell = std::make_shared<RNNCell>(o);
    load_params(*cell, c, dt);
    hn = cell->forward(x, h0), m = cell;
  }
  expect_close(hn, c.at("hn"), tol.atol, tol.rtol, tag + " hn");
  Tensor loss = sum(hn * c.at("ghn").to(dt));
  if (cn.defined()) {
    expect_close(cn, c.at("cn"), tol.atol, tol.rtol, tag + " cn");
    loss = loss + sum(cn * c.at("gcn").to(dt));
  }
  loss.backward();
  check_grads(*m, c, {{"x", x}, {"h0", h0}, {"c0", c0}}, tol, tag);
}

void run_embedding_case(const GCase& c, DType dt) {
  const std::string tag = c.name + " " + dtype_name(dt);
  EmbeddingOptions o;
  if (c.kv.count("padding_idx")) o.padding_idx = c.num("padding_idx");
  if (c.kv.count("max_norm")) o.max_norm = std::stod(c.kv.at("max_norm"));
  auto emb = Embedding::from_pretrained(c.at("weight").to(dt), /*freeze=*/false, o);
  Tensor out = emb->forward(c.at("idx").ids());
  Tol tol = tol_for(dt);
  expect_close(out, c.at("out"), tol.atol, tol.rtol, tag + " out");
  sum(out * c.at("gout").to(dt)).backward();
  expect_close(emb->weight.grad(), c.at("grad.weight"), tol.atol, tol.rtol, tag + " grad.weight");
  if (c.has("weight_after"))
    expect_close(emb->weight, c.at("weight_after"), tol.atol, tol.rtol, tag + " weight after renorm");
}

int run_all(const std::string& prefix, void (*fn)(const GCase&, DType)) {
  int n = 0;
  for (const GCase& c : golden::File::cached("golden/rnn_golden.txt").cases) {
    if (c.kind.rfind(prefix, 0) != 0 && !(prefix == "rnn" && c.kind.rfind("rnn_", 0) == 0)) continue;
    bool is_cell = c.kind.size() > 5 && c.kind.compare(c.kind.size() - 5, 5, "_cell") == 0;
    if ((fn == run_cell_case) != is_cell) continue;
    for (DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE(c.name + " " + dtype_name(dt));
      fn(c, dt);
    }
    ++n;
  }
  return n;
}

}  // namespace

TEST(RnnGolden, LSTM) { EXPECT_EQ(run_all("lstm", run_layer_case), 6); }
TEST(RnnGolden, GRU) { EXPECT_EQ(run_all("gru", run_layer_case), 4); }
TEST(RnnGolden, RNN) { EXPECT_EQ(run_all("rnn", run_layer_case), 4); }
TEST(RnnGolden, Cells) {
  EXPECT_EQ(run_all("lstm", run_cell_case) + run_all("gru", run_cell_case) + run_all("rnn", run_cell_case), 5);
}
TEST(RnnGolden, Embedding) { EXPECT_EQ(run_all("embedding", run_embedding_case), 3); }

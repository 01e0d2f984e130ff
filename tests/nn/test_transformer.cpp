// The transformer modules against PyTorch 1.13 (tests/golden/make_transformer_golden.py, f64, dropout 0): each
// module loads torch's state dict under torch's keys and must give the same output and the same gradients of every
// parameter and input (1e-10); the position helpers against torch formulas; bad input gives clear errors.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include <nerve/nerve.h>
#include <nerve/nn/transformer.h>

#include "golden/golden_reader.h"

namespace {

using namespace nerve;
using nerve::testing::all_close;
using nerve::testing::error_of;
using Inputs = std::map<std::string, Tensor>;

const nerve::golden::Case& G() { return nerve::golden::tensors_of("golden/transformer_golden.txt"); }

// Loads torch's parameters: the module's state-dict keys must be exactly torch's (same count, every key present).
void load_torch_state(nn::Module& m, const std::string& prefix) {
  nn::StateDict sd;
  for (const auto& [k, t] : m.state_dict()) {
    ASSERT_TRUE(G().has(prefix + ".p." + k)) << prefix << ": nerve key " << k << " is not a torch key";
    sd.emplace_back(k, G()(prefix + ".p." + k));
  }
  EXPECT_EQ(int64_t(sd.size()), G()(prefix + ".nparams").item<int64_t>()) << prefix << ": state-dict sizes differ";
  m.load_state_dict(sd);
}

// Input NAME of the case: floating ones require grad, integer ones are the bool masks.
Tensor input(const std::string& prefix, const std::string& name) {
  Tensor t = G()(prefix + ".in." + name);
  return t.dtype() == DType::i64 ? t.to(DType::b8) : t.requires_grad_();
}

// Runs f, backpropagates sum(out * up) [+ sum(weights * upw)], compares output, weights and every gradient.
void check_case(const std::string& prefix, nn::Module& m, const std::vector<std::string>& names,
                const std::function<std::pair<Tensor, Tensor>(Inputs&)>& f) {
  SCOPED_TRACE(prefix);
  load_torch_state(m, prefix);
  m.eval();
  Inputs in;
  for (const std::string& n : names) in[n] = input(prefix, n);
  auto [out, weights] = f(in);
  ASSERT_TRUE(all_close(out, G()(prefix + ".out"))) << "output";
  Tensor loss = sum(out * G()(prefix + ".up"));
  if (G().has(prefix + ".weights")) {
    ASSERT_TRUE(weights.defined());
    EXPECT_TRUE(all_close(weights, G()(prefix + ".weights"))) << "weights";
    loss = loss + sum(weights * G()(prefix + ".upw"));
  }
  loss.backward();
  for (const auto& [k, p] : m.named_parameters())
    EXPECT_TRUE(all_close(p.grad(), G()(prefix + ".g." + k))) << "gradient of " << k;
  for (const auto& [n, t] : in) {
    if (!t.requires_grad()) continue;
    EXPECT_TRUE(all_close(t.grad(), G()(prefix + ".gin." + n))) << "gradient of input " << n;
  }
}

TEST(TransformerGolden, MultiheadAttention) {
  nn::MultiheadAttention mha(8, 2, 0.0, true, false, DType::f64);
  check_case("mha_kpm_float_mask", mha, {"query", "key", "value", "kpm", "mask"}, [&](Inputs& x) {
    return std::pair{mha.forward(x["query"], x["key"], x["value"], x["kpm"], false, x["mask"]).output, Tensor()};
  });
  mha.zero_grad();
  check_case("mha_weights", mha, {"query", "key", "value", "kpm"}, [&](Inputs& x) {
    auto r = mha.forward(x["query"], x["key"], x["value"], x["kpm"], true);
    return std::pair{r.output, r.weights};
  });
  mha.zero_grad();
  check_case("mha_unbatched_self", mha, {"x", "mask"}, [&](Inputs& x) {
    return std::pair{mha.forward(x["x"], x["x"], x["x"], Tensor(), false, x["mask"]).output, Tensor()};
  });
  nn::MultiheadAttention bf({.embed_dim = 8, .num_heads = 2, .bias = false, .batch_first = true, .dtype = DType::f64});
  EXPECT_FALSE(bf.in_proj_bias.defined());
  check_case("mha_batch_first_bool_mask_nobias", bf, {"query", "key", "value", "mask"}, [&](Inputs& x) {
    return std::pair{bf.forward(x["query"], x["key"], x["value"], Tensor(), false, x["mask"]).output, Tensor()};
  });
  nn::MultiheadAttention mha4({.embed_dim = 12, .num_heads = 4, .batch_first = true, .dtype = DType::f64});
  check_case("mha_weights_3d_mask", mha4, {"query", "key", "value", "mask"}, [&](Inputs& x) {
    auto r = mha4.forward(x["query"], x["key"], x["value"], Tensor(), true, x["mask"]);
    return std::pair{r.output, r.weights};
  });
}

TEST(TransformerGolden, EncoderLayerPostAndPreNormReluAndGelu) {
  for (bool norm_first : {false, true})
    for (std::string act : {"relu", "gelu"}) {
      nn::TransformerEncoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0,
                                         .activation = act, .batch_first = norm_first, .norm_first = norm_first,
                                         .dtype = DType::f64});
      const std::string prefix = std::string("enc_") + (norm_first ? "pre_" : "post_") + act;
      check_case(prefix, layer, {"src", "mask", "kpm"}, [&](Inputs& x) {
        return std::pair{layer.forward(x["src"], x["mask"], x["kpm"]), Tensor()};
      });
    }
}

TEST(TransformerGolden, DecoderLayer) {
  for (bool norm_first : {false, true}) {
    nn::TransformerDecoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0,
                                       .batch_first = norm_first, .norm_first = norm_first, .dtype = DType::f64});
    check_case(norm_first ? "dec_pre" : "dec_post", layer, {"tgt", "memory", "tgt_mask", "mkpm"}, [&](Inputs& x) {
      return std::pair{layer.forward(x["tgt"], x["memory"], x["tgt_mask"], Tensor(), Tensor(), x["mkpm"]), Tensor()};
    });
  }
}

TEST(TransformerGolden, EncoderStackWithNorm) {
  nn::TransformerEncoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0,
                                     .activation = "gelu", .batch_first = true, .dtype = DType::f64});
  nn::TransformerEncoder enc(layer, 2, std::make_shared<nn::LayerNorm>(Shape{8}, 1e-5, true, DType::f64));
  // the copies start with the prototype's weights (torch's deepcopy) but are separate tensors
  EXPECT_TRUE(all_close(enc.layers[1]->linear1->weight, layer.linear1->weight, 0, 0));
  EXPECT_NE(enc.layers[1]->linear1->weight.storage(), layer.linear1->weight.storage());
  EXPECT_EQ(enc.state_dict().front().first, "layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(enc.state_dict().back().first, "norm.bias");
  check_case("encoder_2_layers_norm", enc, {"src", "mask"}, [&](Inputs& x) {
    return std::pair{enc.forward(x["src"], x["mask"]), Tensor()};
  });
}

TEST(TransformerGolden, DecoderStackWithNorm) {
  nn::TransformerDecoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.0,
                                     .activation = "gelu", .dtype = DType::f64});
  nn::TransformerDecoder dec(layer, 2, std::make_shared<nn::LayerNorm>(Shape{8}, 1e-5, true, DType::f64));
  EXPECT_TRUE(all_close(dec.layers[1]->multihead_attn->in_proj_weight, layer.multihead_attn->in_proj_weight, 0, 0));
  EXPECT_NE(dec.layers[1]->linear2->weight.storage(), layer.linear2->weight.storage());
  EXPECT_EQ(dec.state_dict().front().first, "layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(dec.state_dict().back().first, "norm.bias");
  check_case("decoder_2_layers_norm", dec, {"tgt", "memory", "tgt_mask", "memory_mask", "tkpm", "mkpm"},
             [&](Inputs& x) {
               return std::pair{dec.forward(x["tgt"], x["memory"], x["tgt_mask"], x["memory_mask"], x["tkpm"],
                                            x["mkpm"]),
                                Tensor()};
             });
}

TEST(TransformerGolden, TransformerPostNormAllMasks) {
  nn::Transformer model({.d_model = 8, .nhead = 2, .num_encoder_layers = 2, .num_decoder_layers = 2,
                         .dim_feedforward = 16, .dropout = 0.0, .dtype = DType::f64});
  EXPECT_EQ(model.state_dict().front().first, "encoder.layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(model.state_dict().back().first, "decoder.norm.bias");
  check_case("transformer_post_relu", model,
             {"src", "tgt", "src_mask", "tgt_mask", "memory_mask", "skpm", "tkpm", "mkpm"}, [&](Inputs& x) {
               return std::pair{model.forward(x["src"], x["tgt"], x["src_mask"], x["tgt_mask"], x["memory_mask"],
                                              x["skpm"], x["tkpm"], x["mkpm"]),
                                Tensor()};
             });
}

TEST(TransformerGolden, TransformerPreNormGeluBatchFirstAndUnbatched) {
  nn::Transformer model({.d_model = 12, .nhead = 3, .num_encoder_layers = 1, .num_decoder_layers = 2,
                         .dim_feedforward = 20, .dropout = 0.0, .activation = "gelu", .batch_first = true,
                         .norm_first = true, .dtype = DType::f64});
  check_case("transformer_pre_gelu_batch_first", model, {"src", "tgt", "tgt_mask"}, [&](Inputs& x) {
    return std::pair{model.forward(x["src"], x["tgt"], Tensor(), x["tgt_mask"]), Tensor()};
  });
  model.zero_grad();
  check_case("transformer_pre_gelu_unbatched", model, {"src", "tgt"}, [&](Inputs& x) {
    return std::pair{model.forward(x["src"], x["tgt"]), Tensor()};
  });
}

// The parameter counts and state-dict sizes of torch's default nn.Transformer() and of a small one; torch's
// initialization (xavier-uniform matrices, not Linear's default).
TEST(TransformerGolden, TransformerParameterCountsAndInit) {
  {
    DeviceGuard meta(Device::meta);  // the default model (44M parameters) only for its shapes
    nn::Transformer model;
    EXPECT_EQ(model.num_parameters(), G()("transformer_count.default.numel").item<int64_t>());
    EXPECT_EQ(int64_t(model.state_dict().size()), G()("transformer_count.default.nparams").item<int64_t>());
  }
  manual_seed(3);
  nn::Transformer small({.d_model = 16, .nhead = 4, .num_encoder_layers = 3, .num_decoder_layers = 1,
                         .dim_feedforward = 24});
  EXPECT_EQ(small.num_parameters(), G()("transformer_count.small.numel").item<int64_t>());
  EXPECT_EQ(int64_t(small.state_dict().size()), G()("transformer_count.small.nparams").item<int64_t>());
  // xavier bounds: in_proj sqrt(6 / (16 + 48)) (torch's draw is within it too), linear1 sqrt(6 / (16 + 24)),
  // above Linear's own default bound 1 / sqrt(16) = 0.25 that a missing reset would leave
  const double in_bound = std::sqrt(6.0 / 64);
  EXPECT_LE(G()("transformer_count.small.max_abs_in_proj").item<double>(), in_bound);
  for (const auto& l : small.encoder->layers) {
    EXPECT_LE(max(abs(l->self_attn->in_proj_weight)).item<float>(), in_bound + 1e-6);
    const float m = max(abs(l->linear1->weight)).item<float>();
    EXPECT_LE(m, std::sqrt(6.0 / 40) + 1e-6);
    EXPECT_GT(m, 0.3f);
  }
  EXPECT_EQ(max(abs(small.decoder->norm->state_dict()[1].second)).item<float>(), 0.f);  // norm.bias
  // the layers are not copies of one another after the reset (torch redraws each)
  EXPECT_FALSE(all_close(small.encoder->layers[0]->linear1->weight, small.encoder->layers[1]->linear1->weight, 0, 0));
}

TEST(Transformer, TransformerBadInputAndMask) {
  nn::Transformer model({.d_model = 8, .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1,
                         .dim_feedforward = 16});
  EXPECT_NE(error_of([&] { model.forward(randn({5, 2, 8}), randn({4, 3, 8})); })
                .find("the batch number of src and tgt must be equal, got [5, 2, 8] and [4, 3, 8]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward(randn({5, 2, 8}), randn({4, 2, 6})); })
                .find("must be equal to d_model 8, got [5, 2, 8] and [4, 2, 6]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward(randn({5, 2, 8}), randn({4, 8})); }).find("both be batched"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::Transformer({.d_model = 10, .nhead = 3}); }).find("divisible"), std::string::npos);
  EXPECT_NE(error_of([&] { nn::Transformer({.d_model = 8, .nhead = 2, .num_encoder_layers = -1}); })
                .find("must be in [0, 4096], got -1 and 6"),
            std::string::npos);
  const Tensor m = nn::Transformer::generate_square_subsequent_mask(3);
  EXPECT_TRUE(all_close(lt(m, full({}, -1e30)).to(DType::f32), from_vector<float>({0, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 3}), 0, 0));
  const Tensor y = model.forward(randn({5, 2, 8}), randn({4, 2, 8}), Tensor(), nn::generate_square_subsequent_mask(4));
  EXPECT_EQ(y.shape(), (Shape{4, 2, 8}));
}

TEST(TransformerGolden, StateDictKeysAreTorchs) {
  nn::TransformerEncoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 16});
  std::vector<std::string> keys;
  for (const auto& [k, t] : layer.state_dict()) keys.push_back(k);
  const std::vector<std::string> torch_keys = {
      "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
      "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
      "norm2.weight", "norm2.bias"};
  EXPECT_EQ(keys, torch_keys);
  // torch's initialization: biases of the attention zero, in_proj xavier-uniform within sqrt(6 / (8 + 24))
  EXPECT_EQ(max(abs(layer.self_attn->in_proj_bias)).item<float>(), 0.f);
  EXPECT_EQ(max(abs(layer.self_attn->out_proj->bias)).item<float>(), 0.f);
  EXPECT_LE(max(abs(layer.self_attn->in_proj_weight)).item<float>(), std::sqrt(6.0 / 32) + 1e-6);
}

TEST(TransformerGolden, PositionHelpers) {
  EXPECT_TRUE(all_close(nn::F::sinusoidal_position_encoding(7, 6, DType::f64), G()("sinusoidal.T7_D6"), 1e-12));
  auto [cos, sin] = nn::F::rotary_cos_sin(7, 6, 10000.0, DType::f64);
  EXPECT_TRUE(all_close(cos, G()("rope.cos"), 1e-12));
  EXPECT_TRUE(all_close(sin, G()("rope.sin"), 1e-12));
  Tensor x = G()("rope.x").requires_grad_();
  Tensor y = nn::F::apply_rotary_emb(x, G()("rope.cos"), G()("rope.sin"));
  EXPECT_TRUE(all_close(y, G()("rope.out")));
  sum(y * G()("rope.up")).backward();
  EXPECT_TRUE(all_close(x.grad(), G()("rope.gx")));
  // a rotation: the norm of every (i, i + d/2) pair is kept
  EXPECT_TRUE(all_close(sum(y * y, {-1}), sum(x * x, {-1}).detach(), 1e-12));
}

// The fused path (need_weights false) and the explicit one give the same output.
TEST(Transformer, FusedAndExplicitMultiheadAttentionAgree) {
  manual_seed(1);
  nn::MultiheadAttention mha({.embed_dim = 16, .num_heads = 4, .batch_first = true});
  const Tensor x = randn({2, 70, 16});
  const Tensor kpm = gt(uniform({2, 70}, 0, 1), full({}, 0.8));
  const Tensor mask = nn::generate_square_subsequent_mask(70);
  const Tensor a = mha.forward(x, x, x, kpm, false, mask).output;
  const Tensor b = mha.forward(x, x, x, kpm, true, mask).output;
  EXPECT_TRUE(all_close(a, b, 1e-5, 1e-4));
}

TEST(Transformer, RMSNormModule) {
  nn::RMSNorm norm({4}, 1e-6);
  EXPECT_EQ(norm.state_dict().size(), 1u);
  EXPECT_EQ(norm.state_dict()[0].first, "weight");
  const Tensor x = randn({3, 4});
  EXPECT_TRUE(all_close(norm(x), x * rsqrt(mean(x * x, {-1}, true) + 1e-6), 1e-6, 1e-5));
}

TEST(Transformer, BadInputGivesClearErrors) {
  EXPECT_NE(error_of([] { nn::MultiheadAttention(10, 3); }).find("embed_dim 10 must be divisible by num_heads 3"),
            std::string::npos);
  nn::MultiheadAttention mha(8, 2);
  const Tensor x = randn({5, 2, 8});
  EXPECT_NE(error_of([&] { mha.forward(x, x, x, Tensor(), false, zeros({5, 4})); })
                .find("attn_mask must be (L, S) = [5, 5] or (N * num_heads, L, S) = [4, 5, 5], got [5, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { mha.forward(x, x, x, zeros({5, 2}, DType::b8)); })
                .find("key_padding_mask must be (N, S) = [2, 5], got [5, 2]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { mha.forward(randn({5, 2, 6}), x, x); }).find("must end in embed_dim 8"), std::string::npos);
  EXPECT_NE(error_of([&] { nn::TransformerEncoderLayer({.d_model = 8, .nhead = 2, .activation = "tanh"}); })
                .find("activation must be relu or gelu, got 'tanh'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::F::apply_rotary_emb(randn({2, 3}), randn({2, 3}), randn({2, 3})); })
                .find("even dim"),
            std::string::npos);
}

}  // namespace

namespace {

// A model too big to run for real (6 layers over 4 x 4096 tokens of width 512) runs for its shapes on meta.
TEST(Transformer, EncoderRunsOnTheMetaDevice) {
  DeviceGuard meta(Device::meta);
  nn::TransformerEncoderLayer layer({.d_model = 512, .nhead = 8, .batch_first = true, .norm_first = true});
  nn::TransformerEncoder enc(layer, 6, std::make_shared<nn::LayerNorm>(Shape{512}));
  const Tensor x = randn({4, 4096, 512}).requires_grad_();
  const Tensor y = enc.forward(x, Tensor(), zeros({4, 4096}, DType::b8));
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.shape(), (Shape{4, 4096, 512}));
  sum(y).backward();
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(enc.layers[5]->self_attn->in_proj_weight.grad().shape(), (Shape{1536, 512}));
  nn::MultiheadAttention mha(512, 8);
  auto r = mha.forward(x, x, x, Tensor(), true);  // (L, N, E) = (4, 4096, 512): weights (4096, 4, 4)
  EXPECT_EQ(r.weights.shape(), (Shape{4096, 4, 4}));
  EXPECT_EQ(enc.num_parameters(), 6 * (4 * 512 * 512 + 4 * 512 + 2 * 512 * 2048 + 2048 + 512 + 4 * 512) + 2 * 512);
}

}  // namespace

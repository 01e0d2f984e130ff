// The op registry: the unary ops come from their table (unary.cpp); the other ops are listed here, one line each,
// as calls of their ops.h functions with attributes read by name (the names PyTorch's keyword arguments have).
#include "nerve/ops/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "nerve/core/error.h"
#include "nerve/ops/attention.h"
#include "nerve/ops/loss.h"
#include "nerve/ops/ops.h"
#include "nerve/ops/optim_step.h"
#include "nerve/ops/sequence.h"
#include "ops/registry_impl.h"

namespace nerve {

// ---------------------------------------------------------------- Attrs
Attrs& Attrs::set(const std::string& key, std::vector<std::string> values) {
  kv_[key] = std::move(values);
  return *this;
}
Attrs& Attrs::set(const std::string& key, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return set(key, std::vector<std::string>{buf});
}
Attrs& Attrs::set(const std::string& key, int64_t v) { return set(key, std::vector<std::string>{std::to_string(v)}); }
Attrs& Attrs::set(const std::string& key, const Shape& v) {
  std::vector<std::string> s;
  for (int64_t d : v) s.push_back(std::to_string(d));
  return set(key, std::move(s));
}

const std::vector<std::string>& Attrs::at(const std::string& key) const {
  auto it = kv_.find(key);
  NERVE_CHECK(it != kv_.end(), "attrs: missing attribute '", key, "'");
  return it->second;
}

namespace {
const std::string& single(const std::vector<std::string>& v, const std::string& key) {
  NERVE_CHECK(v.size() == 1, "attrs: attribute '", key, "' holds ", v.size(), " values, expected one");
  return v[0];
}
}  // namespace

int64_t Attrs::i(const std::string& key) const {
  const std::string& s = single(at(key), key);
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  NERVE_CHECK(!s.empty() && *end == '\0', "attrs: attribute '", key, "' is '", s, "', expected an integer");
  return v;
}
double Attrs::d(const std::string& key) const {
  const std::string& s = single(at(key), key);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  NERVE_CHECK(!s.empty() && *end == '\0', "attrs: attribute '", key, "' is '", s, "', expected a number");
  return v;
}
std::optional<double> Attrs::opt(const std::string& key) const {
  return has(key) ? std::optional<double>(d(key)) : std::nullopt;
}
Shape Attrs::shape(const std::string& key) const {
  Shape out;
  for (const std::string& s : at(key)) {
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    NERVE_CHECK(!s.empty() && *end == '\0', "attrs: attribute '", key, "' holds '", s, "', expected integers");
    out.push_back(v);
  }
  return out;
}
std::string Attrs::s(const std::string& key) const { return single(at(key), key); }

std::vector<Tensor> OpCall::operator()(const std::vector<Tensor>& inputs, const Attrs& attrs) const {
  try {
    return fn(inputs, attrs);
  } catch (const std::out_of_range&) {  // x.at(k) past the inputs given
    throw Error(detail::str_cat(op, ": ", inputs.size(), " input tensor(s) given, fewer than the op takes"));
  }
}

// ---------------------------------------------------------------- the table
namespace {

using In = std::vector<Tensor>;
using Out = std::vector<Tensor>;

void add(std::vector<OpInfo>& ops, const char* group, const char* name, bool differentiable, OpInfo::Fn call) {
  OpInfo info;
  info.name = name;
  info.group = group;
  info.differentiable = differentiable;
  info.call = call;
  ops.push_back(std::move(info));
}

Out pair_out(const std::pair<Tensor, Tensor>& r) { return {r.first, r.second}; }

DType dtype_named(const std::string& s) {
  for (int k = 0; k < kNumDTypes; ++k)
    if (s == dtype_name(static_cast<DType>(k))) return static_cast<DType>(k);
  NERVE_CHECK(false, "attrs: unknown dtype '", s, "'");
  return DType::f32;
}

// a binary op with a tensor or a scalar (attribute "scalar", on the left when "left" is 1) as second operand
Out tensor_or_scalar(const In& x, const Attrs& p, Tensor (*tt)(const Tensor&, const Tensor&),
                     Tensor (*ts)(const Tensor&, double), Tensor (*st)(double, const Tensor&)) {
  if (!p.has("scalar")) return {tt(x.at(0), x.at(1))};
  return {p.b("left") ? st(p.d("scalar"), x.at(0)) : ts(x.at(0), p.d("scalar"))};
}

#define NERVE_OP(expr) [](const In& x, const Attrs& p) -> Out { (void)x; (void)p; return {expr}; }
#define NERVE_OPS(expr) [](const In& x, const Attrs& p) -> Out { (void)x; (void)p; return expr; }

void register_views(std::vector<OpInfo>& v) {
  add(v, "views", "reshape", true, NERVE_OP(reshape(x.at(0), p.shape("shape"))));
  add(v, "views", "view", true, NERVE_OP(view(x.at(0), p.shape("shape"))));
  add(v, "views", "permute", true, NERVE_OP(permute(x.at(0), p.shape("dims"))));
  add(v, "views", "transpose", true, NERVE_OP(transpose(x.at(0), p.i("d0"), p.i("d1"))));
  add(v, "views", "narrow", true, NERVE_OP(narrow(x.at(0), p.i("dim"), p.i("start"), p.i("length"))));
  add(v, "views", "slice", true, NERVE_OP(slice(x.at(0), p.i("dim"), p.i("start"), p.i("end"), p.i("step", 1))));
  add(v, "views", "select", true, NERVE_OP(select(x.at(0), p.i("dim"), p.i("index"))));
  add(v, "views", "expand", true, NERVE_OP(expand(x.at(0), p.shape("shape"))));
  add(v, "views", "squeeze", true, NERVE_OP(p.has("dim") ? squeeze(x.at(0), p.i("dim")) : squeeze(x.at(0))));
  add(v, "views", "unsqueeze", true, NERVE_OP(unsqueeze(x.at(0), p.i("dim"))));
  add(v, "views", "flatten", true, NERVE_OP(flatten(x.at(0), p.i("start_dim", 0), p.i("end_dim", -1))));
  add(v, "views", "contiguous", true, NERVE_OP(contiguous(x.at(0))));
  add(v, "views", "clone", true, NERVE_OP(clone(x.at(0))));
  add(v, "views", "to_dtype", true, NERVE_OP(to_dtype(x.at(0), dtype_named(p.s("dtype")))));
  add(v, "views", "cat", true, NERVE_OP(cat(x, p.i("dim", 0))));
  add(v, "views", "stack", true, NERVE_OP(stack(x, p.i("dim", 0))));
  add(v, "views", "chunk", true, NERVE_OPS(chunk(x.at(0), p.i("chunks"), p.i("dim", 0))));
  add(v, "views", "split", true, NERVE_OPS(split(x.at(0), p.i("split_size"), p.i("dim", 0))));
  add(v, "views", "sum_to", true, NERVE_OP(sum_to(x.at(0), p.shape("shape"))));
}

void register_binary(std::vector<OpInfo>& v) {
  add(v, "binary", "add", true, [](const In& x, const Attrs& p) -> Out {
    if (p.has("scalar")) return {p.b("left") ? p.d("scalar") + x.at(0) : x.at(0) + p.d("scalar")};
    return {add(x.at(0), x.at(1), p.d("alpha", 1.0))};
  });
  add(v, "binary", "sub", true, [](const In& x, const Attrs& p) -> Out {
    if (p.has("scalar")) return {p.b("left") ? p.d("scalar") - x.at(0) : x.at(0) - p.d("scalar")};
    return {sub(x.at(0), x.at(1), p.d("alpha", 1.0))};
  });
  add(v, "binary", "mul", true, [](const In& x, const Attrs& p) {
    return tensor_or_scalar(
        x, p, [](const Tensor& a, const Tensor& b) { return mul(a, b); },
        [](const Tensor& a, double s) { return a * s; }, [](double s, const Tensor& a) { return s * a; });
  });
  add(v, "binary", "div", true, [](const In& x, const Attrs& p) {
    return tensor_or_scalar(
        x, p, [](const Tensor& a, const Tensor& b) { return div(a, b); },
        [](const Tensor& a, double s) { return a / s; }, [](double s, const Tensor& a) { return s / a; });
  });
  add(v, "binary", "pow", true,
      NERVE_OP(p.has("exponent") ? pow(x.at(0), p.d("exponent")) : pow(x.at(0), x.at(1))));
  add(v, "binary", "maximum", true, NERVE_OP(maximum(x.at(0), x.at(1))));
  add(v, "binary", "minimum", true, NERVE_OP(minimum(x.at(0), x.at(1))));
  add(v, "binary", "eq", false, NERVE_OP(eq(x.at(0), x.at(1))));
  add(v, "binary", "ne", false, NERVE_OP(ne(x.at(0), x.at(1))));
  add(v, "binary", "lt", false, NERVE_OP(lt(x.at(0), x.at(1))));
  add(v, "binary", "le", false, NERVE_OP(le(x.at(0), x.at(1))));
  add(v, "binary", "gt", false, NERVE_OP(gt(x.at(0), x.at(1))));
  add(v, "binary", "ge", false, NERVE_OP(ge(x.at(0), x.at(1))));
  add(v, "binary", "logical_and", false, NERVE_OP(logical_and(x.at(0), x.at(1))));
  add(v, "binary", "logical_or", false, NERVE_OP(logical_or(x.at(0), x.at(1))));
  add(v, "binary", "logical_not", false, NERVE_OP(logical_not(x.at(0))));
}

void register_reductions(std::vector<OpInfo>& v) {
  add(v, "reduce", "sum", true, NERVE_OP(sum(x.at(0), p.shape("dims", {}), p.b("keepdim"))));
  add(v, "reduce", "mean", true, NERVE_OP(mean(x.at(0), p.shape("dims", {}), p.b("keepdim"))));
  add(v, "reduce", "var", true,
      NERVE_OP(var(x.at(0), p.shape("dims", {}), p.i("correction", 1), p.b("keepdim"))));
  add(v, "reduce", "std", true,
      NERVE_OP(std(x.at(0), p.shape("dims", {}), p.i("correction", 1), p.b("keepdim"))));
  add(v, "reduce", "max", true, [](const In& x, const Attrs& p) {
    return p.has("dim") ? pair_out(max(x.at(0), p.i("dim"), p.b("keepdim"))) : Out{max(x.at(0))};
  });
  add(v, "reduce", "min", true, [](const In& x, const Attrs& p) {
    return p.has("dim") ? pair_out(min(x.at(0), p.i("dim"), p.b("keepdim"))) : Out{min(x.at(0))};
  });
  add(v, "reduce", "topk", true, [](const In& x, const Attrs& p) {
    return pair_out(topk(x.at(0), p.i("k"), p.i("dim", -1), p.i("largest", 1) != 0, p.i("sorted", 1) != 0));
  });
  add(v, "reduce", "amax", true, NERVE_OP(amax(x.at(0), p.shape("dims"), p.b("keepdim"))));
  add(v, "reduce", "amin", true, NERVE_OP(amin(x.at(0), p.shape("dims"), p.b("keepdim"))));
  add(v, "reduce", "logsumexp", true, NERVE_OP(logsumexp(x.at(0), p.shape("dims"), p.b("keepdim"))));
  add(v, "reduce", "cumsum", true, NERVE_OP(cumsum(x.at(0), p.i("dim"))));
  add(v, "reduce", "norm", true, NERVE_OP(norm(x.at(0), p.d("p"), p.shape("dims", {}), p.b("keepdim"))));
  add(v, "reduce", "argmax", false, NERVE_OP(argmax(x.at(0), p.i("dim"), p.b("keepdim"))));
  add(v, "reduce", "argmin", false, NERVE_OP(argmin(x.at(0), p.i("dim"), p.b("keepdim"))));
  add(v, "reduce", "softmax", true, NERVE_OP(softmax(x.at(0), p.i("dim"))));
  add(v, "reduce", "log_softmax", true, NERVE_OP(log_softmax(x.at(0), p.i("dim"))));
}

void register_linalg_and_index(std::vector<OpInfo>& v) {
  add(v, "linalg", "matmul", true, NERVE_OP(matmul(x.at(0), x.at(1))));
  add(v, "linalg", "linear", true, NERVE_OP(linear(x.at(0), x.at(1), x.size() > 2 ? x[2] : Tensor())));
  add(v, "linalg", "bmm", true, NERVE_OP(bmm(x.at(0), x.at(1))));
  add(v, "linalg", "baddbmm", true,
      NERVE_OP(baddbmm(x.at(0), x.at(1), x.at(2), p.d("beta", 1.0), p.d("alpha", 1.0))));
  add(v, "linalg", "tril", true, NERVE_OP(tril(x.at(0), p.i("diagonal", 0))));
  add(v, "linalg", "triu", true, NERVE_OP(triu(x.at(0), p.i("diagonal", 0))));
  add(v, "fused", "linear_relu", true, NERVE_OP(linear_relu(x.at(0), x.at(1), x.size() > 2 ? x[2] : Tensor())));
  add(v, "fused", "linear_u8", true,
      NERVE_OP(linear_u8(x.at(0), p.d("scale"), p.d("offset"), x.at(1), x.size() > 2 ? x[2] : Tensor(), p.b("relu"))));
  add(v, "index", "where", true, NERVE_OP(where(x.at(0), x.at(1), x.at(2))));
  add(v, "index", "masked_fill", true, NERVE_OP(masked_fill(x.at(0), x.at(1), p.d("value"))));
  add(v, "index", "masked_select", true, NERVE_OP(masked_select(x.at(0), x.at(1))));
  add(v, "index", "gather", true, NERVE_OP(gather(x.at(0), p.i("dim"), x.at(1))));
  add(v, "index", "index_select", true, NERVE_OP(index_select(x.at(0), p.i("dim"), x.at(1))));
  add(v, "index", "scatter_add", true, NERVE_OP(scatter_add(x.at(0), p.i("dim"), x.at(1), x.at(2))));
  add(v, "index", "index_add", true, NERVE_OP(index_add(x.at(0), p.i("dim"), x.at(1), x.at(2), p.d("alpha", 1.0))));
  add(v, "index", "scatter", true, NERVE_OP(scatter(x.at(0), p.i("dim"), x.at(1), x.at(2))));
  add(v, "binary", "rescale", true, NERVE_OP(rescale(x.at(0), p.d("scale"), p.d("offset", 0.0))));
  add(v, "index", "one_hot", false, NERVE_OP(one_hot(x.at(0), p.i("num_classes", -1))));
}

// the losses (nerve/ops/loss.h): input, target, then the optional tensors the flags name ("weight", "pos_weight")
Reduction red(const Attrs& p) { return p.has("reduction") ? reduction_from_name(p.s("reduction")) : Reduction::mean; }
Tensor extra(const In& x, const Attrs& p, bool second) {  // weight: x[2]; pos_weight: after the weight
  const size_t k = 2 + (second && p.b("weight") ? 1 : 0);
  return (second ? p.b("pos_weight") : p.b("weight")) ? x.at(k) : Tensor();
}

RnnMode rnn_mode(const Attrs& p) {
  const std::string m = p.s("mode");
  for (RnnMode r : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh, RnnMode::rnn_relu})
    if (m == (r == RnnMode::lstm ? "lstm" : r == RnnMode::gru ? "gru" : r == RnnMode::rnn_tanh ? "rnn_tanh" : "rnn_relu"))
      return r;
  NERVE_CHECK(false, "rnn_layer: mode must be lstm, gru, rnn_tanh or rnn_relu, got '", m, "'");
  return RnnMode::lstm;
}
// rnn_layer's tensors after its input x (or after ids and table): [h0] [c0] w_ih w_hh [b_ih b_hh], by the flags
// h0, c0, bias; outputs (output, h_n) and c_n for an LSTM
Out rnn_call(const char* op, const Tensor& x, const In& in, size_t k, const Attrs& p) {
  Tensor h0 = p.b("h0") ? in.at(k++) : Tensor(), c0 = p.b("c0") ? in.at(k++) : Tensor();
  Tensor w_ih = in.at(k++), w_hh = in.at(k++);
  detail::check_arg(w_ih, op, "w_ih");
  detail::check_arg(w_hh, op, "w_hh");
  Tensor b_ih = p.b("bias") ? in.at(k++) : Tensor(), b_hh = p.b("bias") ? in.at(k++) : Tensor();
  const RnnMode mode = rnn_mode(p);
  RnnLayerOutput r = rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, p.b("batch_first"), p.b("reverse"));
  if (mode == RnnMode::lstm) return {r.output, r.h_n, r.c_n};
  return {r.output, r.h_n};
}

Out rnn_layer_call(const In& x, const Attrs& p) {
  detail::check_arg(x.at(0), "rnn_layer", "x");
  return rnn_call("rnn_layer", x.at(0), x, 1, p);
}
Out embedding_rnn_call(const In& x, const Attrs& p) {
  detail::check_arg(x.at(0), "embedding_rnn_layer", "ids");
  detail::check_arg(x.at(1), "embedding_rnn_layer", "table");
  return rnn_call("embedding_rnn_layer", embedding(x.at(0), x.at(1)), x, 2, p);
}

// the sequence ops (nerve/ops/sequence.h); embedding_rnn_layer is rnn_layer over embedding(ids, table), which
// projects the table instead of every token when the vocabulary is small (the char-LSTM path)
void register_sequence(std::vector<OpInfo>& v) {
  add(v, "sequence", "embedding", true,
      NERVE_OP(embedding(x.at(0), x.at(1), p.has("padding_idx") ? std::optional<int64_t>(p.i("padding_idx"))
                                                                 : std::nullopt)));
  add(v, "sequence", "rnn_layer", true, NERVE_OPS(rnn_layer_call(x, p)));
  add(v, "fused", "embedding_rnn_layer", true, NERVE_OPS(embedding_rnn_call(x, p)));
}

// the optimizer steps as functional ops: the updated copies of (param, exp_avg, exp_avg_sq[, max_exp_avg_sq]) and
// of (param[, momentum_buffer]); the inputs stay as they were
Out adam_call(const In& x, const Attrs& p) {
  const char* names[] = {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  for (size_t k = 0; k < x.size() && k < 5; ++k) detail::check_arg(x[k], "adam_step_", names[k]);
  Tensor param = x.at(0).clone(), m = x.at(2).clone(), v = x.at(3).clone();
  Tensor vmax = p.b("amsgrad") ? x.at(4).clone() : Tensor();
  adam_step_(param, x.at(1), m, v, vmax, p.i("step"),
             {.lr = p.d("lr"), .beta1 = p.d("beta1", 0.9), .beta2 = p.d("beta2", 0.999), .eps = p.d("eps", 1e-8),
              .weight_decay = p.d("weight_decay", 0.0), .decoupled_weight_decay = p.b("decoupled")});
  return vmax.defined() ? Out{param, m, v, vmax} : Out{param, m, v};
}
Out sgd_call(const In& x, const Attrs& p) {
  const char* names[] = {"param", "grad", "momentum_buffer"};
  for (size_t k = 0; k < x.size() && k < 3; ++k) detail::check_arg(x[k], "sgd_step_", names[k]);
  Tensor param = x.at(0).clone(), buf = x.size() > 2 ? x[2].clone() : Tensor();
  sgd_step_(param, x.at(1), buf, p.b("first"),
            {.lr = p.d("lr"), .momentum = p.d("momentum", 0.0), .dampening = p.d("dampening", 0.0),
             .weight_decay = p.d("weight_decay", 0.0), .nesterov = p.b("nesterov")});
  return buf.defined() ? Out{param, buf} : Out{param};
}

void register_optim_steps(std::vector<OpInfo>& v) {
  add(v, "optim", "adam_step_", false, NERVE_OPS(adam_call(x, p)));
  add(v, "optim", "sgd_step_", false, NERVE_OPS(sgd_call(x, p)));
}

void register_losses(std::vector<OpInfo>& v) {
  add(v, "loss", "mse_loss", true, NERVE_OP(mse_loss(x.at(0), x.at(1), red(p))));
  add(v, "loss", "l1_loss", true, NERVE_OP(l1_loss(x.at(0), x.at(1), red(p))));
  add(v, "loss", "huber_loss", true, NERVE_OP(huber_loss(x.at(0), x.at(1), red(p), p.d("delta", 1.0))));
  add(v, "loss", "nll_loss", true,
      NERVE_OP(nll_loss(x.at(0), x.at(1), extra(x, p, false), p.i("ignore_index", -100), red(p))));
  add(v, "loss", "cross_entropy", true,
      NERVE_OP(cross_entropy(x.at(0), x.at(1), extra(x, p, false), p.i("ignore_index", -100), red(p),
                             p.d("label_smoothing", 0.0))));
  add(v, "loss", "binary_cross_entropy", true,
      NERVE_OP(binary_cross_entropy(x.at(0), x.at(1), extra(x, p, false), red(p))));
  add(v, "loss", "binary_cross_entropy_with_logits", true,
      NERVE_OP(binary_cross_entropy_with_logits(x.at(0), x.at(1), extra(x, p, false), red(p), extra(x, p, true))));
}

// conv2d's padding attribute: integers, or the word same / valid
ConvPadding padding_attr(const Attrs& p) {
  if (!p.has("padding")) return {};
  const std::vector<std::string>& v = p.items().at("padding");
  if (v.size() == 1 && (v[0] == "same" || v[0] == "valid")) return ConvPadding(v[0]);
  return ConvPadding(p.shape("padding"));
}

Tensor opt_input(const In& x, size_t i) { return x.size() > i ? x[i] : Tensor(); }

void register_vision(std::vector<OpInfo>& v) {
  add(v, "vision", "conv2d", true,
      NERVE_OP(conv2d(x.at(0), x.at(1), opt_input(x, 2), p.shape("stride", {1}), padding_attr(p),
                      p.shape("dilation", {1}), p.i("groups", 1))));
  add(v, "fused", "conv2d_relu_max_pool2x2",
      true, NERVE_OP(conv2d_relu_max_pool2x2(x.at(0), x.at(1), opt_input(x, 2), p.shape("stride", {1}),
                                             padding_attr(p), p.shape("dilation", {1}), p.i("groups", 1))));
  add(v, "vision", "max_pool2d", true,
      NERVE_OP(max_pool2d(x.at(0), p.shape("kernel_size"), p.shape("stride", {}), p.shape("padding", {0}),
                          p.shape("dilation", {1}), p.b("ceil_mode"))));
  add(v, "vision", "max_pool2d_with_indices", true,
      NERVE_OPS(pair_out(max_pool2d_with_indices(x.at(0), p.shape("kernel_size"), p.shape("stride", {}),
                                                 p.shape("padding", {0}), p.shape("dilation", {1}), p.b("ceil_mode")))));
  add(v, "vision", "avg_pool2d", true,
      NERVE_OP(avg_pool2d(x.at(0), p.shape("kernel_size"), p.shape("stride", {}), p.shape("padding", {0}),
                          p.b("ceil_mode"), p.i("count_include_pad", 1) != 0)));
  add(v, "vision", "adaptive_avg_pool2d", true, NERVE_OP(adaptive_avg_pool2d(x.at(0), p.shape("output_size"))));
  // inputs x, running_mean, running_var [, weight [, bias]]; the running stats are copied (the op updates them in
  // place when training) and returned as outputs 1 and 2 after the update
  add(v, "vision", "batch_norm", true, [](const In& x, const Attrs& p) -> Out {
    // (undefined running stats stay undefined: batch_norm itself says what it needs)
    Tensor rm = x.at(1).defined() ? x.at(1).detach().clone() : Tensor();
    Tensor rv = x.at(2).defined() ? x.at(2).detach().clone() : Tensor();
    Tensor y = batch_norm(x.at(0), rm, rv, opt_input(x, 3), opt_input(x, 4), p.b("training"), p.d("momentum", 0.1),
                          p.d("eps", 1e-5));
    return {y, rm, rv};
  });
  add(v, "vision", "layer_norm", true,
      NERVE_OP(layer_norm(x.at(0), p.shape("normalized_shape"), opt_input(x, 1), opt_input(x, 2), p.d("eps", 1e-5))));
  add(v, "vision", "conv_transpose2d", true,
      NERVE_OP(conv_transpose2d(x.at(0), x.at(1), opt_input(x, 2), p.shape("stride", {1}), p.shape("padding", {0}),
                                p.shape("output_padding", {0}), p.i("groups", 1), p.shape("dilation", {1}))));
  add(v, "vision", "instance_norm", true,
      NERVE_OP(instance_norm(x.at(0), opt_input(x, 1), opt_input(x, 2), p.d("eps", 1e-5))));
  add(v, "vision", "conv1d", true,
      NERVE_OP(conv1d(x.at(0), x.at(1), opt_input(x, 2), p.shape("stride", {1}), padding_attr(p),
                      p.shape("dilation", {1}), p.i("groups", 1))));
  add(v, "vision", "adaptive_max_pool2d", true, NERVE_OP(adaptive_max_pool2d(x.at(0), p.shape("output_size"))));
  add(v, "vision", "pad", true,
      NERVE_OP(pad(x.at(0), p.shape("pad"), p.has("mode") ? p.s("mode") : "constant", p.d("value", 0.0))));
  add(v, "vision", "interpolate", true,
      NERVE_OP(interpolate(x.at(0), p.shape("size", {}), p.has("mode") ? p.s("mode") : "nearest",
                           p.b("align_corners"), p.opt("scale_factor"))));
  add(v, "vision", "group_norm", true,
      NERVE_OP(group_norm(x.at(0), p.i("num_groups"), opt_input(x, 1), opt_input(x, 2), p.d("eps", 1e-5))));
}

// the transformer ops (nerve/ops/attention.h): inputs q, k, v [, attn_mask] and x [, weight]
void register_transformer(std::vector<OpInfo>& v) {
  add(v, "fused", "scaled_dot_product_attention", true,
      NERVE_OP(scaled_dot_product_attention(x.at(0), x.at(1), x.at(2), opt_input(x, 3), p.d("dropout_p", 0.0),
                                            p.b("is_causal"))));
  add(v, "vision", "rms_norm", true,
      NERVE_OP(rms_norm(x.at(0), p.shape("normalized_shape"), opt_input(x, 1), p.opt("eps"))));
}

#undef NERVE_OP
#undef NERVE_OPS

std::vector<OpInfo> build() {
  std::vector<OpInfo> ops;
  register_views(ops);
  register_binary(ops);
  register_unary_ops(ops);
  register_reductions(ops);
  register_linalg_and_index(ops);
  register_losses(ops);
  register_sequence(ops);
  register_optim_steps(ops);
  register_vision(ops);
  register_transformer(ops);
  std::sort(ops.begin(), ops.end(), [](const OpInfo& a, const OpInfo& b) { return a.name < b.name; });
  for (size_t k = 1; k < ops.size(); ++k)
    NERVE_ASSERT(ops[k - 1].name != ops[k].name, "op registry: '", ops[k].name, "' registered twice");
  return ops;
}

std::vector<OpInfo> build_named() {
  std::vector<OpInfo> ops = build();
  for (OpInfo& o : ops) o.call.op = o.name.c_str();  // the vector is not changed after this
  return ops;
}

}  // namespace

const std::vector<OpInfo>& op_registry() {
  static const std::vector<OpInfo> ops = build_named();
  return ops;
}

const OpInfo& find_op(const std::string& name) {
  const std::vector<OpInfo>& ops = op_registry();
  auto it = std::lower_bound(ops.begin(), ops.end(), name, [](const OpInfo& o, const std::string& n) { return o.name < n; });
  NERVE_CHECK(it != ops.end() && it->name == name, "op registry: no op named '", name, "' (", ops.size(),
              " ops are registered; see include/nerve/ops/registry.h)");
  return *it;
}

}  // namespace nerve

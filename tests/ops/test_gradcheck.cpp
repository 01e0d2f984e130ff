// Finite-difference gradient checks (f64, random upstream gradient) for every differentiable op, with
// broadcast, 0-d and non-contiguous inputs, and non-contiguous upstream gradients (outputs viewed transposed).
// The table below is also read by test_coverage.cpp: an op counts as gradient-checked only if it is here. The
// elementwise unary ops come from the op registry (their descriptors in unary_ops.def), the others are listed.
#include <gtest/gtest.h>

#include <set>

#include <nerve/nerve.h>

namespace nerve_test {

using namespace nerve;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckCase {
  std::string op;       // the ops.h function under test
  std::string variant;  // what this case exercises
  Fn f;
  std::vector<Tensor> inputs;
  double eps = 1e-6, atol = 1e-5, rtol = 1e-4;
};

void PrintTo(const GradcheckCase& c, std::ostream* os) { *os << c.op << "/" << c.variant; }

namespace {

Tensor R(const Shape& s) { return randn(s, DType::f64); }
// randn pushed at least 0.2 away from 0: safe divisors, no kinks of relu/abs near the sample
Tensor away(const Shape& s) {
  Tensor x = R(s);
  return x + where(ge(x, zeros({}, DType::f64)), full({}, 0.2, DType::f64), full({}, -0.2, DType::f64));
}
Tensor positive(const Shape& s) { return uniform(s, 0.3, 2.0, DType::f64); }
Tensor I(const std::vector<int64_t>& v, const Shape& s) { return from_vector<int64_t>(v, s); }
Tensor M(const std::vector<bool>& v, const Shape& s) { return from_vector<bool>(v, s); }
Tensor T(const Tensor& x) { return transpose(x, -1, -2); }  // a non-contiguous view of x

// The cases of one op family; each adds `{op, variant, f, inputs}`.
using Table = std::vector<GradcheckCase>;

void views(Table& t) {
  t.push_back({"reshape", "merge", [](auto& x) { return reshape(x[0], {6, 4}); }, {R({2, 3, 4})}});
  t.push_back({"reshape", "of_transposed", [](auto& x) { return reshape(T(x[0]), {-1}); }, {R({3, 4})}});
  t.push_back({"view", "split_dim", [](auto& x) { return view(x[0], {2, 3, 2}); }, {R({2, 6})}});
  t.push_back({"view", "of_strided", [](auto& x) { return view(slice(x[0], 1, 0, 8, 2), {12}); }, {R({3, 8})}});
  t.push_back({"permute", "3d", [](auto& x) { return permute(x[0], {2, 0, 1}); }, {R({2, 3, 4})}});
  t.push_back({"transpose", "3d", [](auto& x) { return transpose(x[0], 0, 2); }, {R({2, 3, 4})}});
  t.push_back({"narrow", "dim1", [](auto& x) { return narrow(x[0], 1, 1, 2); }, {R({3, 4})}});
  t.push_back({"slice", "step", [](auto& x) { return slice(x[0], 0, 1, 6, 2); }, {R({6, 3})}});
  t.push_back({"slice", "of_transposed", [](auto& x) { return slice(T(x[0]), -1, -3, -1); }, {R({5, 2})}});
  t.push_back({"select", "middle", [](auto& x) { return select(x[0], 1, 2); }, {R({2, 4, 3})}});
  t.push_back({"select", "to_0d", [](auto& x) { return select(x[0], 0, -1); }, {R({3})}});
  t.push_back({"expand", "new_dims", [](auto& x) { return expand(x[0], {2, 3, 4}); }, {R({3, 1})}});
  t.push_back({"expand", "from_0d", [](auto& x) { return expand(x[0], {2, 3}); }, {R({})}});
  t.push_back({"expand", "of_transposed", [](auto& x) { return expand(T(x[0]), {2, 4, 3}); }, {R({3, 4})}});
  t.push_back({"squeeze", "all", [](auto& x) { return squeeze(x[0]); }, {R({1, 3, 1, 2})}});
  t.push_back({"squeeze", "dim", [](auto& x) { return squeeze(x[0], -2); }, {R({3, 1, 2})}});
  t.push_back({"unsqueeze", "middle", [](auto& x) { return unsqueeze(T(x[0]), 1); }, {R({2, 3})}});
  t.push_back({"flatten", "range", [](auto& x) { return flatten(x[0], 1, 2); }, {R({2, 3, 2, 2})}});
  t.push_back({"flatten", "of_transposed", [](auto& x) { return flatten(T(x[0])); }, {R({2, 3})}});
  t.push_back({"contiguous", "of_transposed", [](auto& x) { return contiguous(T(x[0])); }, {R({3, 4})}});
  t.push_back({"clone", "of_strided", [](auto& x) { return clone(slice(x[0], 1, 1, 4, 2)); }, {R({3, 4})}});
  // through f32 and back: the function is linear, so a large step keeps the f32 rounding small
  t.push_back({"to_dtype", "f64_f32_f64", [](auto& x) { return to_dtype(to_dtype(x[0], DType::f32), DType::f64); },
               {R({2, 3})}, 1e-2, 1e-4, 1e-3});
  t.push_back({"cat", "dim0", [](auto& x) { return cat({x[0], x[1], x[2]}, 0); }, {R({2, 3}), R({1, 3}), R({3, 3})}});
  t.push_back({"cat", "noncontig_dim1", [](auto& x) { return cat({T(x[0]), x[1]}, -1); }, {R({2, 3}), R({3, 1})}});
  t.push_back({"cat", "expanded_transposed_grad", [](auto& x) { return T(cat({expand(x[0], {2, 3}), x[1]}, 0)); },
               {R({1, 3}), R({2, 3})}});
  t.push_back({"stack", "dim1", [](auto& x) { return stack({x[0], T(x[1])}, 1); }, {R({2, 3}), R({3, 2})}});
  t.push_back({"chunk", "uneven", [](auto& x) {
                 std::vector<Tensor> c = chunk(x[0], 3, 1);
                 return cat({c[0] * 1.0, c[1] * 2.0, c[2] * 3.0}, 1);
               }, {R({2, 7})}});
  t.push_back({"split", "uneven", [](auto& x) {
                 std::vector<Tensor> c = split(x[0], 2, 0);
                 return cat({c[2] * 3.0, c[0] * -1.0}, 0);  // c[1] gets no gradient
               }, {R({5, 2})}});
  t.push_back({"sum_to", "broadcast_back", [](auto& x) { return sum_to(x[0], {3, 1}); }, {R({2, 3, 4})}});
  t.push_back({"sum_to", "to_0d", [](auto& x) { return sum_to(T(x[0]), {}); }, {R({2, 3})}});
}

void binary(Table& t) {
  for (const char* op : {"add", "sub"}) {
    auto fn = std::string(op) == "add" ? add : sub;
    t.push_back({op, "broadcast", [fn](auto& x) { return fn(x[0], x[1], 1.0); }, {R({3, 1}), R({4})}});
    t.push_back({op, "alpha_0d", [fn](auto& x) { return fn(x[0], x[1], -2.5); }, {R({2, 3}), R({})}});
    t.push_back({op, "noncontig", [fn](auto& x) { return fn(T(x[0]), x[1], 1.0); }, {R({4, 3}), R({3, 4})}});
  }
  t.push_back({"add", "scalar", [](auto& x) { return 1.5 + x[0]; }, {R({3})}});
  t.push_back({"sub", "scalar_left", [](auto& x) { return 1.5 - x[0]; }, {R({3})}});
  t.push_back({"mul", "broadcast_both", [](auto& x) { return mul(x[0], x[1]); }, {R({2, 1, 3}), R({4, 1})}});
  t.push_back({"mul", "same_input", [](auto& x) { return x[0] * x[0]; }, {R({3, 2})}});
  t.push_back({"mul", "noncontig_scalar", [](auto& x) { return T(x[0]) * -3.0; }, {R({2, 3})}});
  t.push_back({"div", "broadcast", [](auto& x) { return div(x[0], x[1]); }, {R({4, 1}), away({3})}});
  t.push_back({"div", "scalar_left", [](auto& x) { return 2.0 / T(x[0]); }, {away({2, 3})}});
  t.push_back({"pow", "tensor_tensor", [](auto& x) { return pow(x[0], x[1]); }, {positive({3, 1}), R({4})}});
  t.push_back({"pow", "scalar", [](auto& x) { return pow(T(x[0]), 2.5); }, {positive({2, 3})}});
  t.push_back({"pow", "scalar_int_negative_base", [](auto& x) { return pow(x[0], 3.0); }, {R({4})}});
  for (const char* op : {"maximum", "minimum"}) {
    auto fn = std::string(op) == "maximum" ? maximum : minimum;
    t.push_back({op, "broadcast", [fn](auto& x) { return fn(x[0], x[1]); }, {R({3, 1}), R({4})}});
    t.push_back({op, "noncontig_0d", [fn](auto& x) { return fn(T(x[0]), x[1]); }, {R({3, 2}), R({})}});
  }
}

// Every op of unary_ops.def, from its registry entry: plain, non-contiguous (transposed input and gradient) and 0-d,
// sampled from its domain, and once more with parameters away from their defaults.
void unary(Table& t) {
  for (const OpInfo& info : op_registry()) {
    if (!info.from_table) continue;
    Tensor (*gen)(const Shape&) = info.domain == Domain::positive ? positive : info.domain == Domain::nonzero ? away : R;
    auto fn = [call = info.call](const Attrs& a) {
      return [call, a](const std::vector<Tensor>& x) { return call({x[0]}, a).at(0); };
    };
    auto noncontig = [call = info.call](const std::vector<Tensor>& x) { return T(call({T(x[0])}, {}).at(0)); };
    t.push_back({info.name, "plain", fn({}), {gen({2, 3})}});
    t.push_back({info.name, "noncontig", noncontig, {gen({3, 4})}});
    t.push_back({info.name, "0d", fn({}), {gen({})}});
    if (info.params.empty()) continue;
    Attrs a;
    for (const auto& [name, def] : info.params) a.set(name, def * 1.5 + 0.1);
    t.push_back({info.name, "params", fn(a), {gen({3, 2})}});
  }
  t.push_back({"gelu", "tanh", [](auto& x) { return gelu(x[0], "tanh"); }, {R({3, 4}) * 2}});
  t.push_back({"clamp", "both", [](auto& x) { return clamp(x[0], -0.5, 0.5); }, {R({4, 5})}});
  t.push_back({"clamp", "min_noncontig", [](auto& x) { return clamp(T(x[0]), 0.1, std::nullopt); }, {R({3, 4})}});
  t.push_back({"clamp", "max", [](auto& x) { return clamp(x[0], std::nullopt, -0.1); }, {R({6})}});
}

void reductions(Table& t) {
  t.push_back({"sum", "all", [](auto& x) { return sum(x[0]); }, {R({2, 3})}});
  t.push_back({"sum", "dims_keepdim", [](auto& x) { return sum(x[0], {0, 2}, true); }, {R({2, 3, 4})}});
  t.push_back({"sum", "noncontig", [](auto& x) { return sum(T(x[0]), {-1}); }, {R({3, 4})}});
  t.push_back({"sum", "expanded", [](auto& x) { return sum(expand(x[0], {3, 2, 4}), {0, 2}, true); }, {R({2, 1})}});
  t.push_back({"sum", "transposed_grad", [](auto& x) { return T(sum(x[0], {1}, true)); }, {R({3, 4, 2})}});
  t.push_back({"mean", "all", [](auto& x) { return mean(x[0]); }, {R({2, 3})}});
  t.push_back({"mean", "dim_noncontig", [](auto& x) { return mean(T(x[0]), {1}, true); }, {R({3, 4})}});
  t.push_back({"var", "unbiased", [](auto& x) { return var(x[0], {1}); }, {R({3, 5})}});
  t.push_back({"var", "population_all", [](auto& x) { return var(T(x[0]), {}, 0); }, {R({3, 4})}});
  t.push_back({"max", "all", [](auto& x) { return max(x[0]); }, {R({3, 4})}});
  t.push_back({"max", "dim_transposed_grad", [](auto& x) { return T(max(x[0], 1, true).first); }, {R({3, 4, 2})}});
  t.push_back({"max", "dim", [](auto& x) { return max(x[0], 1).first; }, {R({3, 4})}});
  t.push_back({"max", "dim_keepdim_noncontig", [](auto& x) { return max(T(x[0]), 0, true).first; }, {R({3, 4})}});
  t.push_back({"min", "all", [](auto& x) { return min(T(x[0])); }, {R({3, 4})}});
  t.push_back({"min", "dim", [](auto& x) { return min(x[0], -1).first; }, {R({2, 3, 4})}});
  t.push_back({"amax", "dims", [](auto& x) { return amax(x[0], {0, 2}); }, {R({2, 3, 4})}});
  t.push_back({"amax", "keepdim_noncontig", [](auto& x) { return amax(T(x[0]), {1}, true); }, {R({3, 4})}});
  // std: qualified, `std(` alone is ambiguous with namespace std under `using namespace nerve`
  t.push_back({"std", "dim", [](auto& x) { return nerve::std(x[0], {1}); }, {R({3, 5})}});
  t.push_back({"std", "population_all_noncontig", [](auto& x) { return nerve::std(T(x[0]), {}, 0); }, {R({3, 4})}});
  t.push_back({"std", "dims_keepdim_transposed_grad", [](auto& x) { return T(nerve::std(x[0], {0, 2}, 1, true)); },
               {R({3, 4, 2})}});
  t.push_back({"amin", "dims", [](auto& x) { return amin(x[0], {0, 2}); }, {R({2, 3, 4})}});
  t.push_back({"amin", "keepdim_noncontig", [](auto& x) { return amin(T(x[0]), {-1}, true); }, {R({3, 4})}});
  t.push_back({"logsumexp", "dim", [](auto& x) { return logsumexp(x[0], {1}); }, {R({3, 4})}});
  t.push_back({"logsumexp", "all_noncontig", [](auto& x) { return logsumexp(T(x[0]), {}); }, {R({3, 4})}});
  t.push_back({"logsumexp", "dims_keepdim_transposed_grad",
               [](auto& x) { return T(logsumexp(x[0] * 30.0, {0, 2}, true)); }, {R({3, 4, 2})}});
  t.push_back({"cumsum", "dim0", [](auto& x) { return cumsum(x[0], 0); }, {R({4, 3})}});
  t.push_back({"cumsum", "middle_noncontig", [](auto& x) { return cumsum(T(x[0]), 1); }, {R({2, 4, 3})}});
  t.push_back({"cumsum", "twice_transposed_grad", [](auto& x) { return T(cumsum(cumsum(x[0], -1), -1)); },
               {R({3, 4})}});
  t.push_back({"norm", "2_all", [](auto& x) { return norm(x[0], 2); }, {R({3, 4})}});
  t.push_back({"norm", "2_dim_noncontig", [](auto& x) { return norm(T(x[0]), 2, {1}); }, {R({3, 4})}});
  t.push_back({"norm", "1_keepdim", [](auto& x) { return norm(x[0], 1, {0}, true); }, {away({3, 4})}});
  t.push_back({"norm", "inf_dims", [](auto& x) { return norm(x[0], INFINITY, {0, 2}); }, {R({2, 3, 4})}});
  t.push_back({"norm", "neg_inf", [](auto& x) { return norm(x[0], -INFINITY, {1}); }, {away({3, 4})}});
  t.push_back({"norm", "3_transposed_grad", [](auto& x) { return T(norm(x[0], 3, {1}, true)); }, {R({3, 4, 2})}});
  t.push_back({"norm", "1_5", [](auto& x) { return norm(x[0], 1.5, {-1}); }, {away({2, 5})}});
  t.push_back({"norm", "0_5", [](auto& x) { return norm(x[0], 0.5); }, {away({2, 3})}});
  t.push_back({"norm", "0", [](auto& x) { return norm(x[0], 0, {1}); }, {away({2, 3})}});
  t.push_back({"topk", "last", [](auto& x) { return topk(x[0], 2).first; }, {R({3, 5})}});
  t.push_back({"topk", "dim0_smallest_unsorted", [](auto& x) { return topk(x[0], 3, 0, false, false).first; },
               {R({5, 2})}});
  t.push_back({"topk", "noncontig_transposed_grad", [](auto& x) { return T(topk(T(x[0]), 2, 1).first); },
               {R({4, 3})}});
  for (const char* op : {"softmax", "log_softmax"}) {
    auto fn = std::string(op) == "softmax" ? softmax : log_softmax;
    t.push_back({op, "last", [fn](auto& x) { return fn(x[0], -1); }, {R({3, 4})}});
    t.push_back({op, "middle", [fn](auto& x) { return fn(x[0], 1); }, {R({2, 3, 4})}});
    t.push_back({op, "noncontig", [fn](auto& x) { return T(fn(T(x[0]), 0)); }, {R({3, 4})}});
    t.push_back({op, "expanded", [fn](auto& x) { return fn(expand(x[0], {3, 4}), 1); }, {R({1, 4})}});
  }
}

void linalg(Table& t) {
  auto mm = [](auto& x) { return matmul(x[0], x[1]); };
  t.push_back({"matmul", "dot", mm, {R({4}), R({4})}});
  t.push_back({"matmul", "vec_mat", mm, {R({3}), R({3, 4})}});
  t.push_back({"matmul", "mat_vec", mm, {R({3, 4}), R({4})}});
  t.push_back({"matmul", "mm", mm, {R({3, 4}), R({4, 2})}});
  t.push_back({"matmul", "mm_transposed", [](auto& x) { return matmul(T(x[0]), T(x[1])); }, {R({4, 3}), R({2, 4})}});
  t.push_back({"matmul", "bmm", mm, {R({2, 3, 4}), R({2, 4, 2})}});
  t.push_back({"matmul", "broadcast_batch", mm, {R({2, 1, 2, 3}), R({3, 3, 2})}});
  t.push_back({"matmul", "2d_nd", mm, {R({3, 4}), R({2, 4, 2})}});
  t.push_back({"matmul", "nd_2d_noncontig", [](auto& x) { return matmul(x[0], T(x[1])); }, {R({2, 3, 4}), R({2, 4})}});
  t.push_back({"matmul", "vec_batched", mm, {R({3}), R({2, 3, 2})}});
  t.push_back({"matmul", "expanded_transposed_grad", [](auto& x) { return T(matmul(expand(x[0], {2, 3, 4}), x[1])); },
               {R({3, 4}), R({2, 4, 2})}});
  t.push_back({"linear", "bias", [](auto& x) { return linear(x[0], x[1], x[2]); }, {R({4, 3}), R({2, 3}), R({2})}});
  t.push_back({"linear", "no_bias", [](auto& x) { return linear(x[0], x[1]); }, {R({4, 3}), R({2, 3})}});
  t.push_back({"linear", "3d_input", [](auto& x) { return linear(x[0], x[1], x[2]); },
               {R({2, 3, 4}), R({2, 4}), R({2})}});
  t.push_back({"linear", "noncontig", [](auto& x) { return T(linear(T(x[0]), T(x[1]), x[2])); },
               {R({3, 4}), R({3, 2}), R({2})}});
  t.push_back({"linear_relu", "bias", [](auto& x) { return linear_relu(x[0], x[1], x[2]); },
               {R({5, 3}), R({4, 3}), R({4})}});
  t.push_back({"linear_relu", "no_bias_3d", [](auto& x) { return linear_relu(x[0], x[1]); }, {R({2, 3, 4}), R({3, 4})}});
  t.push_back({"bmm", "plain", [](auto& x) { return bmm(x[0], x[1]); }, {R({2, 3, 4}), R({2, 4, 2})}});
  t.push_back({"bmm", "noncontig_expanded", [](auto& x) { return bmm(T(x[0]), expand(x[1], {2, 3, 2})); },
               {R({2, 3, 2}), R({1, 3, 2})}});
  t.push_back({"baddbmm", "broadcast_input", [](auto& x) { return baddbmm(x[0], x[1], x[2], 0.5, -2.0); },
               {R({3, 1}), R({2, 3, 4}), R({2, 4, 2})}});
  t.push_back({"baddbmm", "full_input_transposed_grad", [](auto& x) { return T(baddbmm(x[0], T(x[1]), x[2])); },
               {R({2, 3, 2}), R({2, 4, 3}), R({2, 4, 2})}});
  t.push_back({"baddbmm", "beta0", [](auto& x) { return baddbmm(x[0], x[1], x[2], 0.0); },
               {R({2, 2, 2}), R({2, 2, 3}), R({2, 3, 2})}});
  t.push_back({"tril", "diag_neg_batched", [](auto& x) { return tril(x[0], -1); }, {R({2, 3, 4})}});
  t.push_back({"tril", "noncontig_transposed_grad", [](auto& x) { return T(tril(T(x[0]), 1)); }, {R({4, 3})}});
  t.push_back({"triu", "square", [](auto& x) { return triu(x[0]); }, {R({3, 3})}});
  t.push_back({"triu", "expanded_diag2", [](auto& x) { return triu(expand(x[0], {2, 3, 4}), 2); }, {R({3, 4})}});
  // the uint8 input has no gradient: it is captured, the weight and bias are checked
  static const Tensor bytes = from_vector<uint8_t>({0, 17, 255, 128, 3, 90, 200, 64, 1, 33, 250, 7}, {4, 3});
  t.push_back({"linear_u8", "relu_bias", [](auto& x) { return linear_u8(bytes, 1.0 / 255, -0.5, x[0], x[1], true); },
               {R({5, 3}), R({5})}});
  t.push_back({"linear_u8", "no_bias_3d",
               [](auto& x) { return linear_u8(reshape(bytes, {2, 2, 3}), 0.02, 0.1, x[0]); }, {R({2, 3})}});
}

void indexing(Table& t) {
  Tensor cond = M({true, false, true, false, false, true}, {2, 3});
  t.push_back({"where", "same", [](auto& x) { return where(x[0], x[1], x[2]); }, {cond, R({2, 3}), R({2, 3})}});
  t.push_back({"where", "expanded_cond_transposed_grad",
               [](auto& x) { return T(where(expand(x[0], {2, 3}), x[1], x[2])); },
               {M({true, false, true}, {1, 3}), R({2, 1}), R({3})}});
  t.push_back({"where", "broadcast", [](auto& x) { return where(x[0], T(x[1]), x[2]); },
               {M({true, false}, {2, 1}), R({3, 2}), R({})}});
  t.push_back({"masked_fill", "broadcast", [](auto& x) { return masked_fill(x[0], x[1], 2.0); },
               {R({2, 3}), M({false, true, false}, {3})}});
  t.push_back({"masked_fill", "noncontig", [](auto& x) { return masked_fill(T(x[0]), x[1], -1.0); },
               {R({3, 2}), cond}});
  t.push_back({"masked_select", "same", [](auto& x) { return masked_select(x[0], x[1]); }, {R({2, 3}), cond}});
  t.push_back({"masked_select", "transposed", [](auto& x) { return masked_select(T(x[0]), x[1]); }, {R({3, 2}), cond}});
  t.push_back({"masked_select", "broadcast_noncontig", [](auto& x) { return masked_select(T(x[0]), x[1]); },
               {R({1, 3}), M({true, false, true, true, false, true}, {2, 3, 1})}});
  t.push_back({"gather", "dim1_repeats", [](auto& x) { return gather(x[0], 1, x[1]); },
               {R({3, 4}), I({3, 3, 0, 1, 1, 1}, {3, 2})}});
  t.push_back({"gather", "expanded_transposed_grad", [](auto& x) { return T(gather(expand(x[0], {3, 4}), 1, x[1])); },
               {R({1, 4}), I({0, 3, 1, 1, 2, 2}, {3, 2})}});
  t.push_back({"gather", "dim0_noncontig", [](auto& x) { return gather(T(x[0]), 0, x[1]); },
               {R({4, 3}), I({2, 0, 1, 0, 0, 2}, {2, 3})}});
  t.push_back({"index_select", "repeats", [](auto& x) { return index_select(x[0], 0, x[1]); },
               {R({4, 3}), I({2, 0, 2}, {3})}});
  t.push_back({"index_select", "transposed_grad", [](auto& x) { return T(index_select(x[0], 1, x[1])); },
               {R({2, 3, 4}), I({2, 2, 0}, {3})}});
  t.push_back({"index_select", "dim1_noncontig", [](auto& x) { return index_select(T(x[0]), 1, x[1]); },
               {R({4, 3}), I({3, 1}, {2})}});
  t.push_back({"scatter_add", "dim0", [](auto& x) { return scatter_add(x[0], 0, x[1], x[2]); },
               {R({3, 4}), I({0, 2, 2, 1, 0, 0, 1, 1}, {2, 4}), R({2, 4})}});
  t.push_back({"scatter_add", "src_larger_noncontig", [](auto& x) { return scatter_add(T(x[0]), 1, x[1], x[2]); },
               {R({3, 2}), I({2, 2, 0, 1}, {2, 2}), R({2, 3})}});
  t.push_back({"index_add", "dim0_repeats_alpha", [](auto& x) { return index_add(x[0], 0, x[1], x[2], -1.5); },
               {R({4, 3}), I({2, 0, 2}, {3}), R({3, 3})}});
  t.push_back({"index_add", "dim1_noncontig_transposed_grad",
               [](auto& x) { return T(index_add(T(x[0]), 1, x[1], T(x[2]))); },
               {R({5, 2}), I({4, 1, 4}, {3}), R({3, 2})}});
  t.push_back({"scatter", "dim0", [](auto& x) { return scatter(x[0], 0, x[1], x[2]); },
               {R({3, 4}), I({0, 2, 1, 1, 2, 0, 0, 2}, {2, 4}), R({2, 4})}});
  t.push_back({"scatter", "src_larger_noncontig_transposed_grad",
               [](auto& x) { return T(scatter(T(x[0]), 1, x[1], x[2])); },
               {R({3, 2}), I({2, 0, 0, 1}, {2, 2}), R({2, 3})}});
}

// The losses: every differentiable input (targets too, where torch differentiates them), each reduction; class
// weights are constants of the function, as torch does not differentiate them.
void rescale_cases(Table& t) {
  t.push_back({"rescale", "scale_offset", [](auto& x) { return rescale(x[0], -1.5, 0.25); }, {R({2, 3})}});
  t.push_back({"rescale", "transposed", [](auto& x) { return rescale(T(x[0]), 1.0 / 255); }, {R({3, 2})}});
}

void losses(Table& t) {
  const Reduction reds[] = {Reduction::mean, Reduction::sum, Reduction::none};
  auto probs = [](const Shape& s) { return uniform(s, 0.1, 0.9, DType::f64); };
  for (Reduction r : reds) {
    const std::string v = reduction_name(r);
    t.push_back({"mse_loss", v, [r](auto& x) { return mse_loss(x[0], x[1], r); }, {R({3, 4}), R({3, 4})}});
    t.push_back({"l1_loss", v, [r](auto& x) { return l1_loss(x[0], x[1], r); }, {away({3, 4}), R({3, 4}) * 0.01}});
    t.push_back({"huber_loss", v, [r](auto& x) { return huber_loss(x[0], x[1], r, 0.7); },
                 {away({3, 4}) * 2.0, R({3, 4}) * 0.05}});
    t.push_back({"binary_cross_entropy", v, [r](auto& x) { return binary_cross_entropy(x[0], x[1], Tensor(), r); },
                 {probs({3, 4}), probs({3, 4})}});
    t.push_back({"binary_cross_entropy_with_logits", v,
                 [r](auto& x) { return binary_cross_entropy_with_logits(x[0], x[1], Tensor(), r); },
                 {R({3, 4}), probs({3, 4})}});
    t.push_back({"nll_loss", v, [r](auto& x) { return nll_loss(x[0], x[1], Tensor(), -100, r); },
                 {R({4, 5}), I({0, 4, 2, 2}, {4})}});
    t.push_back({"cross_entropy", v, [r](auto& x) { return cross_entropy(x[0], x[1], Tensor(), -100, r); },
                 {R({4, 5}), I({1, 0, 4, 1}, {4})}});
  }
  Tensor w = positive({4}), pw = positive({4});
  t.push_back({"binary_cross_entropy", "weight_transposed",
               [w](auto& x) { return binary_cross_entropy(T(x[0]), x[1], w.expand({3, 4}).contiguous()); },
               {probs({4, 3}), probs({3, 4})}});
  t.push_back({"binary_cross_entropy_with_logits", "weight_pos_weight",
               [w, pw](auto& x) { return binary_cross_entropy_with_logits(x[0], x[1], w, Reduction::sum, pw); },
               {R({3, 4}), probs({3, 4})}});
  t.push_back({"nll_loss", "weight_ignore_4d",
               [w](auto& x) { return nll_loss(x[0], x[1], w.narrow(0, 0, 3), 1, Reduction::mean); },
               {R({2, 3, 2, 2}), I({0, 2, 1, 1, 2, 0, 0, 1}, {2, 2, 2})}});
  t.push_back({"cross_entropy", "weight_ignore_smoothing",
               [w](auto& x) { return cross_entropy(x[0], x[1], w, 3, Reduction::mean, 0.2); },
               {R({5, 4}), I({1, 3, 3, 0, 2}, {5})}});
  t.push_back({"cross_entropy", "4d_smoothing_transposed_grad",
               [](auto& x) { return T(cross_entropy(x[0], x[1], Tensor(), -100, Reduction::none, 0.1)); },
               {R({2, 3, 2, 2}), I({0, 2, 1, 1, 2, 0, 0, 1}, {2, 2, 2})}});
  t.push_back({"cross_entropy", "probabilities",
               [](auto& x) { return cross_entropy(x[0], softmax(x[1], 1), Tensor(), -100, Reduction::mean, 0.2); },
               {R({3, 4}), R({3, 4})}});
}

// embedding and the recurrent layer op (each cell, states, batch_first, reverse), and the Embedding-fed layer whose
// input projection goes through the table (5 ids over 24 tokens)
void sequence(Table& t) {
  // (no padding_idx here: its row gets no gradient by definition, as torch's, which finite differences disagree with)
  t.push_back({"embedding", "repeated_ids_transposed_table",
               [](auto& x) { return embedding(x[1], T(x[0])); }, {R({4, 3}), I({2, 0, 1, 2, 1, 0}, {2, 3})}});
  const int64_t S = 4, B = 2, In = 3, H = 3;
  const std::pair<RnnMode, int64_t> modes[] = {{RnnMode::lstm, 4}, {RnnMode::gru, 3}, {RnnMode::rnn_tanh, 1}};
  for (auto [mode, g] : modes) {
    const std::string name = rnn_mode_name(mode);
    const bool lstm = mode == RnnMode::lstm;
    t.push_back({"rnn_layer", name + "_states_bias",
                 [mode, lstm](auto& x) {
                   RnnLayerOutput r = rnn_layer(mode, x[0], x[1], lstm ? x[2] : Tensor(), x[3], x[4], x[5], x[6]);
                   Tensor y = sum(r.output) * 0.5 + sum(r.h_n * r.h_n);
                   return lstm ? y + sum(r.c_n) : y;
                 },
                 {R({S, B, In}), R({B, H}), R({B, H}), R({g * H, In}) * 0.5, R({g * H, H}) * 0.5, R({g * H}) * 0.3,
                  R({g * H}) * 0.3}});
    t.push_back({"rnn_layer", name + "_batch_first_reverse",
                 [mode](auto& x) { return rnn_layer(mode, x[0], {}, {}, x[1], x[2], {}, {}, true, true).output; },
                 {R({B, S, In}), R({g * H, In}) * 0.5, R({g * H, H}) * 0.5}});
  }
  t.push_back({"embedding_rnn_layer", "lstm_table_path",
               [](auto& x) {
                 Tensor ids = from_vector<int64_t>({0, 3, 1, 4, 2, 2, 0, 1, 3, 4, 4, 0, 1, 2, 3, 0, 1, 2, 4, 3, 2, 0,
                                                    1, 4}, {4, 6});
                 RnnLayerOutput r = rnn_layer(RnnMode::lstm, embedding(ids, x[0]), {}, {}, x[1], x[2], x[3], x[4], true);
                 return sum(r.output) + sum(r.c_n);
               },
               {R({5, In}), R({4 * H, In}) * 0.5, R({4 * H, H}) * 0.5, R({4 * H}) * 0.3, R({4 * H}) * 0.3}});
}

void vision(Table& t) {
  t.push_back({"conv2d", "bias_stride_pad", [](auto& x) { return conv2d(x[0], x[1], x[2], {2}, {1}); },
               {R({2, 3, 6, 5}), R({4, 3, 3, 3}), R({4})}});
  t.push_back({"conv2d", "dilation_same_transposed_grad",
               [](auto& x) { return T(conv2d(x[0], x[1], Tensor(), {1}, "same", {2, 1})); },
               {R({1, 2, 5, 6}), R({3, 2, 2, 3})}});
  t.push_back({"conv2d", "groups_noncontig", [](auto& x) { return conv2d(T(x[0]), x[1], x[2], {1, 2}, {0, 1}, {1}, 2); },
               {R({2, 4, 4, 5}), R({6, 2, 2, 3}), R({6})}});
  t.push_back({"conv2d", "depthwise", [](auto& x) { return conv2d(x[0], x[1], x[2], {1}, {1}, {1}, 3); },
               {R({1, 3, 4, 4}), R({3, 1, 3, 3}), R({3})}});
  t.push_back({"conv2d", "1x1", [](auto& x) { return conv2d(x[0], x[1]); }, {R({2, 3, 3, 2}), R({2, 3, 1, 1})}});
  t.push_back({"conv2d_relu_max_pool2x2", "odd_out_noncontig",
               [](auto& x) { return conv2d_relu_max_pool2x2(T(x[0]), x[1], x[2], {1}, {1}); },
               {R({2, 3, 5, 7}), R({4, 3, 2, 2}), R({4})}});
  t.push_back({"conv2d_relu_max_pool2x2", "groups_stride_no_bias",
               [](auto& x) { return conv2d_relu_max_pool2x2(x[0], x[1], Tensor(), {2}, {1}, {1}, 2); },
               {R({1, 4, 8, 8}), R({4, 2, 3, 3})}});
  t.push_back({"max_pool2d", "pad_dilation_ceil",
               [](auto& x) { return max_pool2d(x[0], {3, 2}, {2, 1}, {1}, {1, 2}, true); }, {R({2, 2, 6, 7})}});
  t.push_back({"max_pool2d", "overlap_noncontig", [](auto& x) { return T(max_pool2d(T(x[0]), {2}, {1})); },
               {R({1, 2, 4, 5})}});
  t.push_back({"max_pool2d_with_indices", "plain",
               [](auto& x) { return max_pool2d_with_indices(x[0], {2}, {2}, {0}, {1}, true).first; },
               {R({1, 3, 5, 5})}});
  t.push_back({"avg_pool2d", "pad_include", [](auto& x) { return avg_pool2d(x[0], {3}, {2}, {1}); }, {R({2, 2, 5, 6})}});
  t.push_back({"avg_pool2d", "ceil_exclude_noncontig",
               [](auto& x) { return T(avg_pool2d(T(x[0]), {2, 3}, {2}, {1}, true, false)); }, {R({1, 2, 7, 5})}});
  t.push_back({"adaptive_avg_pool2d", "uneven", [](auto& x) { return adaptive_avg_pool2d(x[0], {3, 2}); },
               {R({2, 2, 7, 5})}});
  t.push_back({"adaptive_avg_pool2d", "global_noncontig", [](auto& x) { return adaptive_avg_pool2d(T(x[0]), {1}); },
               {R({1, 3, 4, 3})}});
  // running stats: fresh copies per call (training updates them in place; the output does not read them)
  t.push_back({"batch_norm", "train_affine", [](auto& x) {
                 Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
                 return batch_norm(x[0], rm, rv, x[1], x[2], true, 0.1, 1e-5);
               }, {R({4, 3, 2, 2}), R({3}), R({3})}});
  t.push_back({"batch_norm", "train_no_stats_2d", [](auto& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], Tensor(), true); },
               {R({5, 3}), R({3})}});
  // the training kernel on a non-contiguous input, a bias alone and momentum 0.3
  t.push_back({"batch_norm", "train_noncontig_bias_only", [](auto& x) {
                 Tensor rm = zeros({4}, DType::f64), rv = ones({4}, DType::f64);
                 return batch_norm(T(x[0]), rm, rv, Tensor(), x[1], true, 0.3, 1e-3);
               }, {R({2, 3, 4}), R({4})}});
  t.push_back({"batch_norm", "eval_noncontig", [](auto& x) {
                 return batch_norm(T(x[0]), full({3}, 0.5, DType::f64), full({3}, 2.0, DType::f64), x[1], x[2]);
               }, {R({2, 4, 3}), R({3}), R({3})}});
  t.push_back({"layer_norm", "affine", [](auto& x) { return layer_norm(x[0], {4}, x[1], x[2]); },
               {R({3, 4}), R({4}), R({4})}});
  t.push_back({"layer_norm", "two_dims_noncontig", [](auto& x) { return layer_norm(T(x[0]), {3, 2}, x[1]); },
               {R({2, 2, 3}), R({3, 2})}});
  t.push_back({"conv_transpose2d", "stride_pad_outpad",
               [](auto& x) { return conv_transpose2d(x[0], x[1], x[2], {2}, {1}, {1}); },
               {R({2, 2, 3, 3}), R({2, 3, 3, 3}), R({3})}});
  t.push_back({"conv_transpose2d", "groups_dilation_noncontig",
               [](auto& x) { return conv_transpose2d(T(x[0]), x[1], Tensor(), {1, 2}, {0}, {0}, 2, {2, 1}); },
               {R({1, 4, 3, 4}), R({4, 1, 2, 2})}});
  t.push_back({"instance_norm", "affine", [](auto& x) { return instance_norm(x[0], x[1], x[2]); },
               {R({2, 3, 3, 2}), R({3}), R({3})}});
  t.push_back({"conv1d", "stride_pad_dilation", [](auto& x) { return conv1d(x[0], x[1], x[2], {2}, {2}, {2}); },
               {R({2, 2, 9}), R({3, 2, 3}), R({3})}});
  t.push_back({"conv1d", "same_groups_noncontig", [](auto& x) { return conv1d(T(x[0]), x[1], Tensor(), {1}, "same", {1}, 2); },
               {R({2, 6, 4}), R({4, 2, 2})}});
  t.push_back({"adaptive_max_pool2d", "uneven", [](auto& x) { return adaptive_max_pool2d(x[0], {3, 2}); },
               {R({2, 2, 7, 5})}});
  t.push_back({"pad", "constant", [](auto& x) { return pad(x[0], {1, 2, 2, 0}, "constant", 0.5); }, {R({1, 2, 3, 3})}});
  t.push_back({"pad", "reflect_noncontig", [](auto& x) { return pad(T(x[0]), {2, 1, 1, 2}, "reflect"); },
               {R({1, 2, 4, 3})}});
  t.push_back({"pad", "replicate", [](auto& x) { return pad(x[0], {3, 1}, "replicate"); }, {R({2, 3, 2})}});
  t.push_back({"interpolate", "nearest", [](auto& x) { return interpolate(x[0], {5, 3}); }, {R({1, 2, 3, 4})}});
  t.push_back({"interpolate", "bilinear", [](auto& x) { return interpolate(x[0], {5, 7}, "bilinear"); },
               {R({2, 1, 3, 4})}});
  t.push_back({"interpolate", "bilinear_align_down", [](auto& x) { return interpolate(x[0], {2, 3}, "bilinear", true); },
               {R({1, 2, 4, 5})}});
  t.push_back({"group_norm", "affine", [](auto& x) { return group_norm(x[0], 2, x[1], x[2]); },
               {R({2, 4, 3, 2}), R({4}), R({4})}});
  t.push_back({"group_norm", "no_affine_3d", [](auto& x) { return group_norm(x[0], 3, Tensor(), Tensor(), 1e-3); },
               {R({2, 6, 3})}});
}

// the fused attention (several key and query tiles of 64, masks, a fully masked row, dropout with a fixed seed)
// and rms_norm
void transformer(Table& t) {
  auto sdpa = [](const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& m = Tensor(), bool causal = false,
                 double p = 0.0) { return scaled_dot_product_attention(q, k, v, m, p, causal); };
  t.push_back({"scaled_dot_product_attention", "causal_tiles", [=](auto& x) { return sdpa(x[0], x[1], x[2], {}, true); },
               {R({1, 2, 70, 3}), R({1, 2, 70, 3}), R({1, 2, 70, 2})}});
  t.push_back({"scaled_dot_product_attention", "l_ne_s_noncontig",
               [=](auto& x) { return sdpa(T(x[0]), x[1], x[2]); }, {R({2, 3, 5}), R({2, 4, 3}), R({2, 4, 6})}});
  Tensor pad = from_vector<bool>({1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {2, 1, 1, 5});
  pad = cat({pad, ones({2, 1, 1, 65}, DType::b8)}, 3);  // 70 keys, two tiles
  t.push_back({"scaled_dot_product_attention", "key_padding_tiles",
               [=](auto& x) { return sdpa(x[0], x[1], x[2], pad); }, {R({2, 1, 66, 2}), R({2, 1, 70, 2}), R({2, 1, 70, 2})}});
  t.push_back({"scaled_dot_product_attention", "float_mask_grad",
               [=](auto& x) { return sdpa(x[0], x[1], x[2], x[3], true); },
               {R({2, 2, 4, 3}), R({2, 2, 5, 3}), R({2, 2, 5, 2}), R({2, 1, 4, 5})}});
  // row 1 sees no key: output and gradients 0 there, no NaN anywhere
  Tensor rows = from_vector<bool>({1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0}, {3, 4});
  t.push_back({"scaled_dot_product_attention", "fully_masked_row",
               [=](auto& x) { return sdpa(x[0], x[1], x[2], rows); }, {R({2, 3, 2}), R({2, 4, 2}), R({2, 4, 3})}});
  t.push_back({"scaled_dot_product_attention", "dropout_fixed_seed", [=](auto& x) {
                 manual_seed(99);
                 return sdpa(x[0], x[1], x[2], {}, true, 0.3);
               }, {R({2, 6, 3}), R({2, 6, 3}), R({2, 6, 2})}});
  t.push_back({"rms_norm", "weight", [](auto& x) { return rms_norm(x[0], {4}, x[1], 1e-6); }, {R({3, 4}), R({4})}});
  t.push_back({"rms_norm", "two_dims_noncontig", [](auto& x) { return rms_norm(T(x[0]), {2, 3}); }, {R({2, 3, 2})}});
}

}  // namespace

const std::vector<GradcheckCase>& gradcheck_cases() {
  static const std::vector<GradcheckCase> cases = [] {
    manual_seed(20240501);
    Table t;
    views(t);
    binary(t);
    unary(t);
    reductions(t);
    linalg(t);
    indexing(t);
    losses(t);
    sequence(t);
    rescale_cases(t);
    vision(t);
    transformer(t);
    return t;
  }();
  return cases;
}

/// The ops that have at least one gradient check (read by test_coverage.cpp).
std::set<std::string> gradchecked_ops() {
  std::set<std::string> s;
  for (const GradcheckCase& c : gradcheck_cases()) s.insert(c.op);
  return s;
}

namespace {

class Gradcheck : public ::testing::TestWithParam<GradcheckCase> {};

TEST_P(Gradcheck, MatchesFiniteDifferences) {
  const GradcheckCase& c = GetParam();
  manual_seed(7);  // the random upstream gradient
  GradcheckResult r = gradcheck(c.f, c.inputs, c.eps, c.atol, c.rtol);
  EXPECT_TRUE(r.ok) << c.op << "/" << c.variant << ": " << r.message << " (max abs err " << r.max_abs_err << ")";
  // the inputs gradcheck was given are not modified
  for (const Tensor& x : c.inputs) EXPECT_FALSE(x.requires_grad());
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::ValuesIn(gradcheck_cases()),
                         [](const ::testing::TestParamInfo<GradcheckCase>& info) {
                           return info.param.op + "_" + info.param.variant;
                         });

// The checker itself must catch a wrong gradient: x * detach(x) has true gradient 2x, autograd sees x.
TEST(GradcheckTool, DetectsAWrongGradient) {
  manual_seed(3);
  GradcheckResult r = gradcheck([](auto& x) { return x[0] * x[0].detach(); }, {R({3})});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
}

TEST(GradcheckTool, CaseNamesAreUnique) {
  std::set<std::string> names;
  for (const GradcheckCase& c : gradcheck_cases())
    EXPECT_TRUE(names.insert(c.op + "_" + c.variant).second) << c.op << "_" << c.variant;
}

}  // namespace
}  // namespace nerve_test

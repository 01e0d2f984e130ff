// Golden tests: every op's forward output and input gradients against PyTorch's, read from
// tests/golden/ops_golden.txt (written by tests/golden/make_golden.py; the format is described there).
// Each case runs in f64 (tight tolerance) and, when the file says so, in f32 (loose tolerance).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <nerve/nerve.h>

namespace {

using namespace nerve;

// ------------------------------------------------------------------ the file
struct GoldenTensor {
  std::string name;  // input name, or output index
  DType dtype = DType::f64;
  std::string layout = "c";
  Shape shape;
  std::vector<double> values;
};

struct Params {
  std::map<std::string, std::vector<std::string>> kv;

  bool has(const std::string& k) const { return kv.count(k) != 0; }
  const std::vector<std::string>& at(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) throw std::runtime_error("golden: missing param '" + k + "'");
    return it->second;
  }
  int64_t i(const std::string& k) const { return std::stoll(at(k).at(0)); }
  int64_t i(const std::string& k, int64_t def) const { return has(k) ? i(k) : def; }
  double d(const std::string& k) const { return std::strtod(at(k).at(0).c_str(), nullptr); }
  double d(const std::string& k, double def) const { return has(k) ? d(k) : def; }
  std::optional<double> opt(const std::string& k) const { return has(k) ? std::optional<double>(d(k)) : std::nullopt; }
  bool b(const std::string& k) const { return i(k, 0) != 0; }
  Shape shape(const std::string& k) const {
    Shape s;
    for (const std::string& v : at(k)) s.push_back(std::stoll(v));
    return s;
  }
  std::string s(const std::string& k) const { return at(k).at(0); }
};

struct Case {
  std::string name, op;
  int line = 0;
  bool f32 = false;
  Params p;
  std::vector<GoldenTensor> in, out;
  std::map<int, GoldenTensor> gout;
  std::vector<GoldenTensor> grad;
};

DType dtype_from_name(const std::string& s) {
  for (DType d : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8})
    if (s == dtype_name(d)) return d;
  throw std::runtime_error("golden: unknown dtype '" + s + "'");
}

// DTYPE NDIM DIMS... VALUES...
GoldenTensor read_tensor(std::istringstream& is) {
  GoldenTensor t;
  std::string dt;
  int64_t nd = 0;
  is >> dt >> nd;
  t.dtype = dtype_from_name(dt);
  t.shape.resize(static_cast<size_t>(nd));
  for (int64_t& d : t.shape) is >> d;
  std::string v;
  while (is >> v) t.values.push_back(std::strtod(v.c_str(), nullptr));
  if (static_cast<int64_t>(t.values.size()) != numel(t.shape))
    throw std::runtime_error("golden: " + std::to_string(t.values.size()) + " values for shape " + to_string(t.shape));
  return t;
}

const std::string kGoldenPath = NERVE_TEST_DATA_DIR "/golden/ops_golden.txt";

std::vector<Case> parse_file() {
  std::ifstream f(kGoldenPath);
  if (!f) throw std::runtime_error("golden: cannot open " + kGoldenPath);
  std::vector<Case> cases;
  std::string line;
  int ln = 0;
  Case cur;
  bool open = false;
  while (std::getline(f, line)) {
    ++ln;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::string kind;
    is >> kind;
    if (kind == "case") {
      if (open) throw std::runtime_error("golden: line " + std::to_string(ln) + ": case without end");
      cur = Case();
      int f32 = 0;
      is >> cur.name >> cur.op >> f32;
      cur.f32 = f32 != 0;
      cur.line = ln;
      open = true;
      continue;
    }
    if (!open) throw std::runtime_error("golden: line " + std::to_string(ln) + ": record outside a case");
    if (kind == "param") {
      std::string key;
      size_t n = 0;
      is >> key >> n;
      std::vector<std::string>& vals = cur.p.kv[key];
      vals.resize(n);
      for (std::string& v : vals) is >> v;
    } else if (kind == "in") {
      std::string name, layout;
      is >> name;
      std::string dt;
      is >> dt >> layout;
      // re-read the rest as a tensor: put the dtype back in front
      std::string rest;
      std::getline(is, rest);
      std::istringstream ts(dt + rest);
      GoldenTensor t = read_tensor(ts);
      t.name = name;
      t.layout = layout;
      cur.in.push_back(std::move(t));
    } else if (kind == "out" || kind == "gout" || kind == "grad") {
      std::string name;
      is >> name;
      GoldenTensor t = read_tensor(is);
      t.name = name;
      if (kind == "out") cur.out.push_back(std::move(t));
      else if (kind == "gout") cur.gout[std::stoi(name)] = std::move(t);
      else cur.grad.push_back(std::move(t));
    } else if (kind == "end") {
      cases.push_back(std::move(cur));
      open = false;
    } else {
      throw std::runtime_error("golden: line " + std::to_string(ln) + ": unknown record '" + kind + "'");
    }
  }
  if (open) throw std::runtime_error("golden: unterminated case at end of file");
  return cases;
}

const std::vector<Case>& golden_cases() {
  static const std::vector<Case> cases = parse_file();
  return cases;
}

// ------------------------------------------------------------------ the dispatcher: op name -> nerve call
using In = std::vector<Tensor>;
using Out = std::vector<Tensor>;
using OpFn = std::function<Out(const In&, const Params&)>;

Out binary_or_scalar(const In& x, const Params& p, Tensor (*tt)(const Tensor&, const Tensor&),
                     Tensor (*ts)(const Tensor&, double), Tensor (*st)(double, const Tensor&)) {
  if (!p.has("scalar")) return {tt(x[0], x[1])};
  return {p.b("left") ? st(p.d("scalar"), x[0]) : ts(x[0], p.d("scalar"))};
}

Tensor mul_tt(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor div_tt(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor add_ts(const Tensor& a, double s) { return a + s; }
Tensor add_st(double s, const Tensor& a) { return s + a; }
Tensor sub_ts(const Tensor& a, double s) { return a - s; }
Tensor sub_st(double s, const Tensor& a) { return s - a; }
Tensor mul_ts(const Tensor& a, double s) { return a * s; }
Tensor mul_st(double s, const Tensor& a) { return s * a; }
Tensor div_ts(const Tensor& a, double s) { return a / s; }
Tensor div_st(double s, const Tensor& a) { return s / a; }

Out pair_out(const std::pair<Tensor, Tensor>& r) { return {r.first, r.second}; }

#define NERVE_OP(expr) [](const In& x, const Params& p) -> Out { (void)x; (void)p; return {expr}; }

const std::map<std::string, OpFn>& dispatcher() {
  static const std::map<std::string, OpFn> ops = {
      // views and copies
      {"reshape", NERVE_OP(reshape(x[0], p.shape("shape")))},
      {"view", NERVE_OP(view(x[0], p.shape("shape")))},
      {"permute", NERVE_OP(permute(x[0], p.shape("dims")))},
      {"transpose", NERVE_OP(transpose(x[0], p.i("d0"), p.i("d1")))},
      {"narrow", NERVE_OP(narrow(x[0], p.i("dim"), p.i("start"), p.i("length")))},
      {"slice", NERVE_OP(slice(x[0], p.i("dim"), p.i("start"), p.i("end"), p.i("step", 1)))},
      {"select", NERVE_OP(select(x[0], p.i("dim"), p.i("index")))},
      {"expand", NERVE_OP(expand(x[0], p.shape("shape")))},
      {"squeeze", NERVE_OP(p.has("dim") ? squeeze(x[0], p.i("dim")) : squeeze(x[0]))},
      {"unsqueeze", NERVE_OP(unsqueeze(x[0], p.i("dim")))},
      {"flatten", NERVE_OP(flatten(x[0], p.i("start_dim", 0), p.i("end_dim", -1)))},
      {"contiguous", NERVE_OP(contiguous(x[0]))},
      {"clone", NERVE_OP(clone(x[0]))},
      {"to_dtype", NERVE_OP(to_dtype(x[0], dtype_from_name(p.s("dtype"))))},
      {"cat", NERVE_OP(cat(x, p.i("dim", 0)))},
      {"stack", NERVE_OP(stack(x, p.i("dim", 0)))},
      {"chunk", [](const In& x, const Params& p) { return chunk(x[0], p.i("chunks"), p.i("dim", 0)); }},
      {"split", [](const In& x, const Params& p) { return split(x[0], p.i("split_size"), p.i("dim", 0)); }},
      {"sum_to", NERVE_OP(sum_to(x[0], p.shape("shape")))},
      // elementwise binary
      {"add", [](const In& x, const Params& p) -> Out {
         if (p.has("scalar")) return binary_or_scalar(x, p, nullptr, add_ts, add_st);
         return {add(x[0], x[1], p.d("alpha", 1.0))};
       }},
      {"sub", [](const In& x, const Params& p) -> Out {
         if (p.has("scalar")) return binary_or_scalar(x, p, nullptr, sub_ts, sub_st);
         return {sub(x[0], x[1], p.d("alpha", 1.0))};
       }},
      {"mul", [](const In& x, const Params& p) { return binary_or_scalar(x, p, mul_tt, mul_ts, mul_st); }},
      {"div", [](const In& x, const Params& p) { return binary_or_scalar(x, p, div_tt, div_ts, div_st); }},
      {"pow", NERVE_OP(p.has("exponent") ? pow(x[0], p.d("exponent")) : pow(x[0], x[1]))},
      {"maximum", NERVE_OP(maximum(x[0], x[1]))},
      {"minimum", NERVE_OP(minimum(x[0], x[1]))},
      {"eq", NERVE_OP(eq(x[0], x[1]))},
      {"ne", NERVE_OP(ne(x[0], x[1]))},
      {"lt", NERVE_OP(lt(x[0], x[1]))},
      {"le", NERVE_OP(le(x[0], x[1]))},
      {"gt", NERVE_OP(gt(x[0], x[1]))},
      {"ge", NERVE_OP(ge(x[0], x[1]))},
      {"logical_and", NERVE_OP(logical_and(x[0], x[1]))},
      {"logical_or", NERVE_OP(logical_or(x[0], x[1]))},
      {"logical_not", NERVE_OP(logical_not(x[0]))},
      // elementwise unary
      {"neg", NERVE_OP(neg(x[0]))},
      {"exp", NERVE_OP(exp(x[0]))},
      {"log", NERVE_OP(log(x[0]))},
      {"sqrt", NERVE_OP(sqrt(x[0]))},
      {"abs", NERVE_OP(abs(x[0]))},
      {"relu", NERVE_OP(relu(x[0]))},
      {"leaky_relu", NERVE_OP(leaky_relu(x[0], p.d("negative_slope", 0.01)))},
      {"sigmoid", NERVE_OP(sigmoid(x[0]))},
      {"tanh", NERVE_OP(tanh(x[0]))},
      {"gelu", NERVE_OP(p.has("approximate") ? gelu(x[0], p.s("approximate")) : gelu(x[0]))},
      {"clamp", NERVE_OP(clamp(x[0], p.opt("min"), p.opt("max")))},
      // reductions
      {"sum", NERVE_OP(sum(x[0], p.has("dims") ? p.shape("dims") : Shape{}, p.b("keepdim")))},
      {"mean", NERVE_OP(mean(x[0], p.has("dims") ? p.shape("dims") : Shape{}, p.b("keepdim")))},
      {"var", NERVE_OP(var(x[0], p.has("dims") ? p.shape("dims") : Shape{}, p.i("correction", 1), p.b("keepdim")))},
      {"max", [](const In& x, const Params& p) {
         return p.has("dim") ? pair_out(max(x[0], p.i("dim"), p.b("keepdim"))) : Out{max(x[0])};
       }},
      {"min", [](const In& x, const Params& p) {
         return p.has("dim") ? pair_out(min(x[0], p.i("dim"), p.b("keepdim"))) : Out{min(x[0])};
       }},
      {"amax", NERVE_OP(amax(x[0], p.shape("dims"), p.b("keepdim")))},
      {"argmax", NERVE_OP(argmax(x[0], p.i("dim"), p.b("keepdim")))},
      {"argmin", NERVE_OP(argmin(x[0], p.i("dim"), p.b("keepdim")))},
      {"softmax", NERVE_OP(softmax(x[0], p.i("dim")))},
      {"log_softmax", NERVE_OP(log_softmax(x[0], p.i("dim")))},
      // linear algebra
      {"matmul", NERVE_OP(matmul(x[0], x[1]))},
      {"linear", NERVE_OP(x.size() > 2 ? linear(x[0], x[1], x[2]) : linear(x[0], x[1]))},
      {"linear_relu", NERVE_OP(x.size() > 2 ? linear_relu(x[0], x[1], x[2]) : linear_relu(x[0], x[1]))},
      {"linear_u8", NERVE_OP(linear_u8(x[0], p.d("scale"), p.d("offset"), x[1], x.size() > 2 ? x[2] : Tensor(),
                                       p.b("relu")))},
      // selection and indexing
      {"where", NERVE_OP(where(x[0], x[1], x[2]))},
      {"masked_fill", NERVE_OP(masked_fill(x[0], x[1], p.d("value")))},
      {"gather", NERVE_OP(gather(x[0], p.i("dim"), x[1]))},
      {"index_select", NERVE_OP(index_select(x[0], p.i("dim"), x[1]))},
      {"scatter_add", NERVE_OP(scatter_add(x[0], p.i("dim"), x[1], x[2]))},
      {"one_hot", NERVE_OP(one_hot(x[0], p.i("num_classes", -1)))},
  };
  return ops;
}

#undef NERVE_OP

// ------------------------------------------------------------------ building and comparing tensors
Tensor from_values(const std::vector<double>& v, const Shape& shape, DType d) {
  Tensor t = empty(shape, d);
  visit_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
  });
  return t;
}

// An input with the file's layout: contiguous, transposed (t) or every other element at offset 1 (s).
Tensor make_input(const GoldenTensor& g, DType d) {
  Tensor c = from_values(g.values, g.shape, d);
  if (g.layout == "c") return c;
  if (g.layout == "t") {
    if (c.dim() < 2) throw std::runtime_error("golden: layout t needs 2 dims");
    return c.transpose(-1, -2).contiguous().transpose(-1, -2);
  }
  if (g.layout == "s") {
    if (c.dim() < 1) throw std::runtime_error("golden: layout s needs 1 dim");
    Shape wide = g.shape;
    int64_t n = wide.back();
    wide.back() = 2 * n + 1;
    Tensor base = full(wide, is_floating(d) ? std::nan("") : 77.0, d);
    Tensor v = slice(base, -1, 1, 2 * n + 1, 2);
    v.copy_(c);
    return v;
  }
  throw std::runtime_error("golden: unknown layout '" + g.layout + "'");
}

struct Tol {
  double atol, rtol;
};

::testing::AssertionResult matches(const Tensor& actual, const GoldenTensor& want, DType want_dtype, Tol tol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (actual.shape() != want.shape)
    return ::testing::AssertionFailure() << "shape " << to_string(actual.shape()) << ", expected "
                                         << to_string(want.shape);
  if (actual.dtype() != want_dtype)
    return ::testing::AssertionFailure() << "dtype " << dtype_name(actual.dtype()) << ", expected "
                                         << dtype_name(want_dtype);
  std::vector<double> a = actual.to_vector<double>();
  bool exact = !is_floating(want_dtype);
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = a[i], y = want.values[i];
    bool ok;
    if (std::isnan(y)) ok = std::isnan(x);
    else if (std::isinf(y) || exact) ok = x == y;
    else ok = std::abs(x - y) <= tol.atol + tol.rtol * std::abs(y);
    if (!ok && bad++ == 0) first = static_cast<int64_t>(i);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " values differ; first at flat index " << first
                                       << ": got " << a[static_cast<size_t>(first)] << ", expected "
                                       << want.values[static_cast<size_t>(first)];
}

bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

// Runs one case with floating inputs as `fdt` (f64: the golden dtype; f32: every f64 tensor becomes f32).
void run_case(const Case& c, DType fdt, Tol tol) {
  auto map_dtype = [&](DType d) { return d == DType::f64 ? fdt : d; };
  auto it = dispatcher().find(c.op);
  ASSERT_NE(it, dispatcher().end()) << "golden case " << c.name << ": no dispatcher entry for op '" << c.op << "'";
  std::vector<Tensor> in;
  std::vector<std::vector<double>> before;
  for (const GoldenTensor& g : c.in) {
    Tensor x = make_input(g, map_dtype(g.dtype));
    if (is_floating(x.dtype())) x.requires_grad_(true);
    before.push_back(x.to_vector<double>());
    in.push_back(x);
  }
  Out out = it->second(in, c.p);
  ASSERT_EQ(out.size(), c.out.size()) << "number of outputs";
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_TRUE(matches(out[i], c.out[i], map_dtype(c.out[i].dtype), tol)) << "output " << i;

  Tensor loss;
  for (size_t i = 0; i < out.size(); ++i) {
    auto g = c.gout.find(static_cast<int>(i));
    bool differentiable = g != c.gout.end();
    ASSERT_EQ(out[i].requires_grad(), differentiable) << "output " << i << " requires_grad";
    if (!differentiable) continue;
    Tensor term = sum(out[i] * from_values(g->second.values, g->second.shape, out[i].dtype()));
    loss = loss.defined() ? loss + term : term;
  }
  if (loss.defined()) loss.backward();
  for (const GoldenTensor& want : c.grad) {
    size_t k = 0;
    while (k < c.in.size() && c.in[k].name != want.name) ++k;
    ASSERT_LT(k, c.in.size()) << "gradient for unknown input " << want.name;
    Tensor g = in[k].grad().defined() ? in[k].grad() : zeros_like(in[k]);
    EXPECT_TRUE(matches(g, want, map_dtype(want.dtype), tol)) << "gradient of input " << want.name;
  }
  for (size_t k = 0; k < in.size(); ++k)
    EXPECT_TRUE(same_values(in[k].to_vector<double>(), before[k])) << "the op modified input " << c.in[k].name;
}

void run_guarded(const Case& c, DType fdt, Tol tol) {
  try {
    run_case(c, fdt, tol);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "exception: " << e.what();
  }
}

constexpr Tol kTolF64{1e-10, 1e-9};
constexpr Tol kTolF32{2e-5, 2e-4};

std::vector<std::string> op_names_in_file() {
  std::vector<std::string> names;
  std::set<std::string> seen;
  try {
    for (const Case& c : golden_cases())
      if (seen.insert(c.op).second) names.push_back(c.op);
  } catch (const std::exception&) {
    // reported by GoldenFile.Parses
  }
  return names;
}

TEST(GoldenFile, Parses) {
  ASSERT_NO_THROW(golden_cases());
  EXPECT_GE(golden_cases().size(), 100u);
  std::set<std::string> names;
  for (const Case& c : golden_cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
    EXPECT_FALSE(c.out.empty()) << c.name << ": no outputs";
    EXPECT_TRUE(dispatcher().count(c.op)) << "line " << c.line << ": case " << c.name << " uses op '" << c.op
                                          << "', which the golden dispatcher does not know";
  }
}

TEST(GoldenFile, EveryFloatingInputHasAGradient) {
  for (const Case& c : golden_cases()) {
    size_t floating = 0;
    for (const GoldenTensor& t : c.in) floating += is_floating(t.dtype);
    EXPECT_EQ(c.grad.size(), floating) << c.name;
  }
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, F64) {
  int n = 0;
  for (const Case& c : golden_cases()) {
    if (c.op != GetParam()) continue;
    SCOPED_TRACE("golden case " + c.name + " (ops_golden.txt line " + std::to_string(c.line) + ", f64)");
    manual_seed(0);
    run_guarded(c, DType::f64, kTolF64);
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST_P(Golden, F32) {
  for (const Case& c : golden_cases()) {
    if (c.op != GetParam() || !c.f32) continue;
    SCOPED_TRACE("golden case " + c.name + " (ops_golden.txt line " + std::to_string(c.line) + ", f32)");
    run_guarded(c, DType::f32, kTolF32);
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Golden, ::testing::ValuesIn(op_names_in_file()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace

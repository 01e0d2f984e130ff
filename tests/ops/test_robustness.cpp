// API robustness: every op of the registry is called with odd arguments and must return or throw nerve::Error,
// never crash (a signal ends the test binary; under ASan + UBSan, `make test-asan`, any report does too).
// The ops come from the registry and their attributes and input shapes from their golden cases
// (tests/golden/ops_golden.txt), so a new op is covered without touching this file. Each input in turn is
// replaced by an undefined, empty, 0-d, NaN/inf (or out-of-range integer), other-dtype, non-contiguous or
// broadcast (stride 0) tensor; the op also gets too few inputs and out-of-range attributes; every result that
// requires grad is backpropagated. An undefined input must give an error naming the op.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <nerve/nerve.h>

#include "golden/golden_reader.h"

// Under ASan an allocation the system cannot serve must come back as null (nerve then throws nerve::Error), not
// abort the process: the tests below ask for more memory than any machine has.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
extern "C" const char* __tsan_default_options() { return "allocator_may_return_null=1"; }

namespace {

using namespace nerve;

struct InputSpec {
  DType dtype = DType::f64;
  Shape shape;
  std::vector<double> values;
};

struct Spec {
  std::string op;
  int line = 0;
  Attrs attrs;
  std::vector<InputSpec> inputs;
};

// The `case`, `param` and `in` records of the golden file, read by the golden reader (tests/golden/golden_reader.h).
std::vector<Spec> read_specs() {
  std::vector<Spec> specs;
  for (const golden::Case& c : golden::File::cached("golden/ops_golden.txt").cases) {
    Spec s;
    s.op = c.kind;
    s.line = c.line;
    for (const golden::GList& l : c.lists)
      if (l.tag == "param") s.attrs.set(l.name, l.items);
    for (const golden::GTensor& t : c.tensors)
      if (t.tag == "in") s.inputs.push_back(InputSpec{t.dtype, t.shape, t.values});
    specs.push_back(std::move(s));
  }
  return specs;
}

// Up to three cases per op, with different attributes where the file has them.
std::map<std::string, std::vector<Spec>> specs_by_op() {
  std::map<std::string, std::vector<Spec>> by_op;
  std::map<std::string, std::set<std::string>> seen;
  for (Spec& s : read_specs()) {
    std::ostringstream key;
    for (const auto& [k, v] : s.attrs.items()) key << k << "=" << v.size() << ";";
    key << s.inputs.size();
    auto& list = by_op[s.op];
    if (list.size() < 3 && seen[s.op].insert(key.str()).second) list.push_back(std::move(s));
  }
  return by_op;
}

Tensor make(const InputSpec& in, DType d) {
  Tensor t = from_vector(in.values, in.shape);  // f64
  return d == DType::f64 ? t : t.to(d);
}

// The variants of one input tensor: (description, tensor)
std::vector<std::pair<std::string, Tensor>> variants(const InputSpec& in) {
  std::vector<std::pair<std::string, Tensor>> v;
  Tensor base = make(in, in.dtype);
  v.push_back({"undefined", Tensor()});
  Shape empty_shape = in.shape.empty() ? Shape{0} : in.shape;
  empty_shape[0] = 0;
  v.push_back({"empty " + to_string(empty_shape), zeros(empty_shape, in.dtype)});
  v.push_back({"0-d", scalar_tensor(in.values.empty() ? 1.0 : in.values[0], in.dtype)});
  v.push_back({"1 element", full({1}, 1.0, in.dtype)});
  {  // special values: NaN, +-inf, +-0, tiny, huge for floats; out-of-range indices for integers
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<double> fl = {std::nan(""), inf, -inf, 0.0, -0.0, 1e-40, 3e38, -1.0};
    const std::vector<double> in_ = {-3, 7, -1, 0, 1000, 2, 1, -1000};
    std::vector<double> vals(in.values.size());
    const auto& pat = is_floating(in.dtype) ? fl : in_;
    for (size_t i = 0; i < vals.size(); ++i) vals[i] = pat[i % pat.size()];
    v.push_back({"special values", make(InputSpec{in.dtype, in.shape, vals}, in.dtype)});
  }
  for (DType d : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8, DType::bf16, DType::f16,
                  DType::i8})
    if (d != in.dtype) v.push_back({std::string("dtype ") + dtype_name(d), make(in, d)});
  if (base.dim() >= 2) v.push_back({"transposed", base.transpose(-1, -2).contiguous().transpose(-1, -2)});
  if (base.dim() >= 1) {
    Shape wide = base.shape();
    wide.back() = 2 * wide.back() + 1;
    Tensor w = zeros(wide, in.dtype);
    Tensor s = slice(w, -1, 1, wide.back(), 2);
    s.copy_(base);
    v.push_back({"strided", s});
    if (base.shape()[0] > 1) v.push_back({"stride 0", base.narrow(0, 0, 1).expand(base.shape())});
  }
  return v;
}

std::string describe_call(const Spec& s, const std::string& what) {
  std::ostringstream os;
  os << s.op << " (golden case at line " << s.line << "): " << what;
  return os.str();
}

// Calls the op; returns or throws nerve::Error (anything else fails the test). A result that requires grad is
// backpropagated (its backward must hold up too).
void call_op(const Spec& s, const std::vector<Tensor>& in, const Attrs& attrs, const std::string& what,
             bool undefined_input = false) {
  if (std::getenv("NERVE_ROBUSTNESS_VERBOSE")) std::cerr << describe_call(s, what) << std::endl;
  const OpInfo& op = find_op(s.op);
  try {
    std::vector<Tensor> out = op.call(in, attrs);
    Tensor loss;
    for (const Tensor& o : out) {
      if (!o.defined() || !o.requires_grad() || o.numel() > (int64_t{1} << 20)) continue;
      Tensor term = sum(o.to(DType::f64));
      loss = loss.defined() ? loss + term : term;
    }
    if (loss.defined()) loss.backward();
  } catch (const Error& e) {
    if (undefined_input) {
      EXPECT_NE(std::string(e.what()).find(s.op), std::string::npos)
          << describe_call(s, what) << ": the message does not name the op: " << e.what();
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << describe_call(s, what) << ": threw a " << typeid(e).name() << ", not nerve::Error: " << e.what();
  }
}

std::vector<Tensor> golden_inputs(const Spec& s, bool requires_grad) {
  std::vector<Tensor> in;
  for (const InputSpec& i : s.inputs) {
    Tensor t = make(i, i.dtype);
    if (requires_grad && is_floating(t.dtype()) && !s.attrs.b("nograd")) t.requires_grad_();
    in.push_back(t);
  }
  return in;
}

void check_op(const std::string& name) {
  static const std::map<std::string, std::vector<Spec>> by_op = specs_by_op();
  auto it = by_op.find(name);
  ASSERT_NE(it, by_op.end()) << name << " has no golden case (test_coverage.cpp reports it)";
  for (const Spec& s : it->second) {
    for (bool rg : {false, true}) {
      call_op(s, golden_inputs(s, rg), s.attrs, "the golden inputs");
      // each input replaced in turn
      for (size_t k = 0; k < s.inputs.size(); ++k) {
        for (auto& [what, t] : variants(s.inputs[k])) {
          std::vector<Tensor> in = golden_inputs(s, rg);
          in[k] = t;
          if (rg && t.defined() && is_floating(t.dtype()) && t.is_leaf()) in[k] = t.detach().requires_grad_();
          call_op(s, in, s.attrs, "input " + std::to_string(k) + " " + what + (rg ? " (requires grad)" : ""),
                  !t.defined());
        }
      }
    }
    // too few inputs, and all of them undefined
    for (size_t k = 0; k < s.inputs.size(); ++k) {
      std::vector<Tensor> in = golden_inputs(s, false);
      in.resize(k);
      call_op(s, in, s.attrs, std::to_string(k) + " inputs");
    }
    call_op(s, std::vector<Tensor>(s.inputs.size()), s.attrs, "all inputs undefined", true);
    // each attribute value replaced by out-of-range numbers and junk
    for (const auto& [key, vals] : s.attrs.items()) {
      for (size_t j = 0; j < vals.size(); ++j) {
        for (const char* bad : {"-1000000", "-1", "0", "1000000", "1099511627776", "-9223372036854775808",
                                "9223372036854775807", "nan", "inf", "-inf", "junk", ""}) {
          Attrs a = s.attrs;
          std::vector<std::string> v = vals;
          v[j] = bad;
          a.set(key, v);
          const std::string what = "attribute " + key + "[" + std::to_string(j) + "] = '" + bad + "'";
          call_op(s, golden_inputs(s, true), a, what);
          std::vector<Tensor> empties;  // and on empty inputs (an op may loop over the attribute instead)
          for (const InputSpec& i : s.inputs) empties.push_back(variants(i)[1].second);
          call_op(s, empties, a, what + ", empty inputs");
        }
      }
      Attrs a = s.attrs;  // no value at all
      a.set(key, std::vector<std::string>{});
      call_op(s, golden_inputs(s, true), a, "attribute " + key + " without values");
    }
  }
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpInfo& o : op_registry()) names.push_back(o.name);
  return names;
}

class Robustness : public ::testing::TestWithParam<std::string> {};

TEST_P(Robustness, OddArgumentsReturnOrThrowNerveError) { check_op(GetParam()); }

INSTANTIATE_TEST_SUITE_P(EveryOp, Robustness, ::testing::ValuesIn(op_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace

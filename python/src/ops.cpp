// nerve._C functions: creation, the op set with PyTorch names and keyword arguments (the unary ops generated from
// unary_ops.def, every registry op reachable by name through _C.call_op), grad mode, seeding and threads.
#include <cmath>
#include <limits>

#include "bind.h"

namespace nerve::python {

namespace {

DType dtype_or(const py::object& o, DType def) { return o.is_none() ? def : o.cast<DType>(); }

Tensor opt(const py::object& o) { return o.is_none() ? Tensor() : as_tensor(o); }

// (values, indices) as torch's named tuple: v, i = x.max(1) and x.max(1).indices both work
py::object pair(const std::pair<Tensor, Tensor>& p) {
  // (never destroyed: a static py::object would be released after the interpreter has finalized)
  static py::object* type =
      new py::object(py::module_::import("collections").attr("namedtuple")("return_types", "values indices"));
  return (*type)(p.first, p.second);
}

Tensor with_grad(Tensor t, bool requires_grad) {
  if (requires_grad) t.requires_grad_(true);
  return t;
}

// an attribute value of a registry op from a Python value: numbers, strings, bools, sequences of ints, dtypes
void set_attr(Attrs& a, const std::string& key, const py::handle& v) {
  if (py::isinstance<py::bool_>(v)) {
    a.set(key, int64_t(v.cast<bool>()));
  } else if (py::isinstance<py::int_>(v)) {
    a.set(key, v.cast<int64_t>());
  } else if (py::isinstance<py::float_>(v)) {
    a.set(key, v.cast<double>());
  } else if (py::isinstance<py::str>(v)) {
    a.set(key, v.cast<std::string>());
  } else if (py::isinstance<DType>(v)) {
    a.set(key, std::string(dtype_name(v.cast<DType>())));
  } else {
    a.set(key, shape_from(v));
  }
}

// every op of the registry by name: tensors positionally, attributes by keyword
py::object call_op(const std::string& name, const py::args& args, const py::kwargs& kwargs) {
  const OpInfo& info = find_op(name);
  std::vector<Tensor> in;
  for (py::handle a : args) in.push_back(a.is_none() ? Tensor() : as_tensor(a));
  Attrs attrs;
  for (auto kv : kwargs) set_attr(attrs, kv.first.cast<std::string>(), kv.second);
  std::vector<Tensor> out = info.call(in, attrs);
  if (out.size() == 1) return py::cast(out[0]);
  return py::tuple(py::cast(out));
}

Reduction reduction(const std::string& s) { return reduction_from_name(s); }

void bind_creation(py::module_& m) {
  auto shaped = [&m](const char* name, Tensor (*make)(const Shape&, DType, Device)) {
    m.def(name, [make](const py::args& size, const py::object& dtype, bool requires_grad) {
      return with_grad(make(shape_from_args(size), dtype_or(dtype, DType::f32), default_device()), requires_grad);
    }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
  };
  shaped("zeros", &zeros);
  shaped("ones", &ones);
  shaped("empty", &empty);
  m.def("full", [](const py::object& size, double v, const py::object& dtype, bool requires_grad) {
    return with_grad(full(shape_from(size), v, dtype_or(dtype, DType::f32)), requires_grad);
  }, py::arg("size"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("requires_grad") = false);
  m.def("randn", [](const py::args& size, const py::object& dtype, bool requires_grad) {
    return with_grad(randn(shape_from_args(size), dtype_or(dtype, DType::f32)), requires_grad);
  }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
  m.def("rand", [](const py::args& size, const py::object& dtype, bool requires_grad) {
    return with_grad(rand(shape_from_args(size), dtype_or(dtype, DType::f32)), requires_grad);
  }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
  m.def("randint", [](int64_t low, int64_t high, const py::object& size, const py::object& dtype) {
    return randint(low, high, shape_from(size), dtype_or(dtype, DType::i64));
  }, py::arg("low"), py::arg("high"), py::arg("size"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("arange", [](const py::object& a, const py::object& b, const py::object& step, const py::object& dtype,
                     bool requires_grad) {
    const bool ints = py::isinstance<py::int_>(a) && (b.is_none() || py::isinstance<py::int_>(b)) &&
                      py::isinstance<py::int_>(step);
    const DType d = dtype_or(dtype, ints ? DType::i64 : DType::f32);
    Tensor t = b.is_none() ? arange(a.cast<double>(), d) : arange(a.cast<double>(), b.cast<double>(), step.cast<double>(), d);
    return with_grad(t, requires_grad);
  }, py::arg("start"), py::arg("end") = py::none(), py::arg("step") = 1, py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("requires_grad") = false);
  m.def("linspace", [](double a, double b, int64_t steps, const py::object& dtype) {
    return linspace(a, b, steps, dtype_or(dtype, DType::f32));
  }, py::arg("start"), py::arg("end"), py::arg("steps"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("eye", [](int64_t n, const py::object& dtype) { return eye(n, dtype_or(dtype, DType::f32)); },
        py::arg("n"), py::kw_only(), py::arg("dtype") = py::none());
  auto like = [&m](const char* name, auto make) {
    m.def(name, [make](const Tensor& t, const py::object& dtype, bool requires_grad) {
      return with_grad(make(t.shape(), dtype_or(dtype, t.dtype())), requires_grad);
    }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
  };
  like("zeros_like", [](const Shape& s, DType d) { return zeros(s, d); });
  like("ones_like", [](const Shape& s, DType d) { return ones(s, d); });
  like("empty_like", [](const Shape& s, DType d) { return empty(s, d); });
  like("randn_like", [](const Shape& s, DType d) { return randn(s, d); });
  like("rand_like", [](const Shape& s, DType d) { return rand(s, d); });
  m.def("full_like", [](const Tensor& t, double v, const py::object& dtype) {
    return full(t.shape(), v, dtype_or(dtype, t.dtype()));
  }, py::arg("input"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("scalar_tensor", [](double v, const py::object& dtype) { return scalar_tensor(v, dtype_or(dtype, DType::f32)); },
        py::arg("s"), py::kw_only(), py::arg("dtype") = py::none());
}

// the elementwise unary ops, one binding per line of unary_ops.def, with their parameters as keywords
#define NERVE_PY_ARGS(params) NERVE_PY_ARGS_##params
#define NERVE_PY_ARGS_P0() py::arg("input")
#define NERVE_PY_ARGS_P1(a, da) py::arg("input"), py::arg(#a) = da
#define NERVE_PY_ARGS_P2(a, da, b, db) py::arg("input"), py::arg(#a) = da, py::arg(#b) = db
#define NERVE_PY_MARGS(params) NERVE_PY_MARGS_##params
#define NERVE_PY_MARGS_P0()
#define NERVE_PY_MARGS_P1(a, da) , py::arg(#a) = da
#define NERVE_PY_MARGS_P2(a, da, b, db) , py::arg(#a) = da, py::arg(#b) = db

void bind_unary(py::module_& m, py::class_<Tensor>& c) {
#define NERVE_UNARY(name, params, ...)                                                                  \
  m.def(#name, static_cast<Tensor (*)(const Tensor& NERVE_PARAM_DEF(params))>(&nerve::name), NERVE_PY_ARGS(params)); \
  c.def(#name, static_cast<Tensor (*)(const Tensor& NERVE_PARAM_DEF(params))>(&nerve::name) NERVE_PY_MARGS(params));
#define NERVE_UNARY_FAST NERVE_UNARY
#define NERVE_UNARY_HIDDEN(...)
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
}

// binds f both as nerve.name and as the method Tensor.name
// (the method takes no annotation for self: the first one, "input", is dropped)
template <class F, class First, class... Rest>
void both(py::module_& m, py::class_<Tensor>& c, const char* name, F f, const First& first, const Rest&... rest) {
  m.def(name, f, first, rest...);
  c.def(name, f, rest...);
}

void bind_functions(py::module_& m, py::class_<Tensor>& c) {
  using py::arg;
  // views
  c.def("reshape", [](const Tensor& x, const py::args& s) { return reshape(x, shape_from_args(s)); });
  c.def("view", [](const Tensor& x, const py::args& s) {
    if (s.size() == 1 && py::isinstance<DType>(s[0])) throw py::type_error("view(dtype) is not supported; use .to(dtype)");
    return view(x, shape_from_args(s));
  });
  c.def("permute", [](const Tensor& x, const py::args& s) { return permute(x, shape_from_args(s)); });
  c.def("expand", [](const Tensor& x, const py::args& s) { return expand(x, shape_from_args(s)); });
  c.def("repeat", [](const Tensor& x, const py::args& s) {
    const Shape reps = shape_from_args(s);
    Tensor y = x;
    NERVE_CHECK(reps.size() >= static_cast<size_t>(x.dim()), "repeat: ", reps.size(), " repeats for a ", x.dim(), "-d tensor");
    while (y.dim() < static_cast<int64_t>(reps.size())) y = unsqueeze(y, 0);
    for (size_t d = 0; d < reps.size(); ++d) y = cat(std::vector<Tensor>(std::max<int64_t>(reps[d], 0), y), d);
    return y;
  });
  m.def("reshape", [](const Tensor& x, const py::object& s) { return reshape(x, shape_from(s)); }, arg("input"), arg("shape"));
  m.def("permute", [](const Tensor& x, const py::object& s) { return permute(x, shape_from(s)); }, arg("input"), arg("dims"));
  both(m, c, "transpose", [](const Tensor& x, int64_t a, int64_t b) { return transpose(x, a, b); }, arg("input"), arg("dim0"), arg("dim1"));
  both(m, c, "t", [](const Tensor& x) { return x.t(); }, arg("input"));
  c.def_property_readonly("T", [](const Tensor& x) {
    Shape d;
    for (int64_t k = x.dim() - 1; k >= 0; --k) d.push_back(k);
    return permute(x, d);
  });
  both(m, c, "narrow", &narrow, arg("input"), arg("dim"), arg("start"), arg("length"));
  both(m, c, "select", &select, arg("input"), arg("dim"), arg("index"));
  both(m, c, "squeeze", [](const Tensor& x, const py::object& dim) {
    return dim.is_none() ? squeeze(x) : squeeze(x, dim.cast<int64_t>());
  }, arg("input"), arg("dim") = py::none());
  both(m, c, "unsqueeze", [](const Tensor& x, int64_t d) { return unsqueeze(x, d); }, arg("input"), arg("dim"));
  both(m, c, "flatten", &flatten, arg("input"), arg("start_dim") = 0, arg("end_dim") = -1);
  m.def("cat", &cat, arg("tensors"), arg("dim") = 0);
  m.def("concat", &cat, arg("tensors"), arg("dim") = 0);
  m.def("stack", &stack, arg("tensors"), arg("dim") = 0);
  both(m, c, "chunk", &chunk, arg("input"), arg("chunks"), arg("dim") = 0);
  both(m, c, "split", &split, arg("input"), arg("split_size_or_sections"), arg("dim") = 0);
  m.def("clone", &clone, arg("input"));
  // binary
  both(m, c, "add", [](const Tensor& a, const py::object& b, double alpha) {
    return add(a, as_tensor(b), alpha);
  }, arg("input"), arg("other"), py::kw_only(), arg("alpha") = 1.0);
  both(m, c, "sub", [](const Tensor& a, const py::object& b, double alpha) {
    return sub(a, as_tensor(b), alpha);
  }, arg("input"), arg("other"), py::kw_only(), arg("alpha") = 1.0);
  both(m, c, "mul", [](const Tensor& a, const py::object& b) { return mul(a, as_tensor(b)); }, arg("input"), arg("other"));
  both(m, c, "div", [](const Tensor& a, const py::object& b) { return div(a, as_tensor(b)); }, arg("input"), arg("other"));
  both(m, c, "pow", [](const Tensor& a, const py::object& e) {
    return py::isinstance<Tensor>(e) ? pow(a, e.cast<Tensor>()) : pow(a, e.cast<double>());
  }, arg("input"), arg("exponent"));
  both(m, c, "maximum", &maximum, arg("input"), arg("other"));
  both(m, c, "minimum", &minimum, arg("input"), arg("other"));
  for (auto [name, f] : {std::pair{"eq", &eq}, {"ne", &ne}, {"lt", &lt}, {"le", &le}, {"gt", &gt}, {"ge", &ge},
                         {"logical_and", &logical_and}, {"logical_or", &logical_or}})
    both(m, c, name, [f = f](const Tensor& a, const py::object& b) {
      Tensor t = as_tensor(b);
      return f(a, t.dtype() == a.dtype() || t.dim() > 0 ? t : t.to(a.dtype()));
    }, arg("input"), arg("other"));
  both(m, c, "logical_not", &logical_not, arg("input"));
  both(m, c, "matmul", &matmul, arg("input"), arg("other"));
  both(m, c, "mm", &matmul, arg("input"), arg("mat2"));
  both(m, c, "bmm", &bmm, arg("input"), arg("mat2"));
  m.def("baddbmm", &baddbmm, arg("input"), arg("batch1"), arg("batch2"), py::kw_only(), arg("beta") = 1.0, arg("alpha") = 1.0);
  both(m, c, "tril", &tril, arg("input"), arg("diagonal") = 0);
  both(m, c, "triu", &triu, arg("input"), arg("diagonal") = 0);
  both(m, c, "clamp", [](const Tensor& x, std::optional<double> lo, std::optional<double> hi) { return clamp(x, lo, hi); },
       arg("input"), arg("min") = py::none(), arg("max") = py::none());
  both(m, c, "clip", [](const Tensor& x, std::optional<double> lo, std::optional<double> hi) { return clamp(x, lo, hi); },
       arg("input"), arg("min") = py::none(), arg("max") = py::none());
  // reductions
  both(m, c, "sum", [](const Tensor& x, const py::object& dim, bool keepdim, const py::object& dtype) {
    Tensor y = dtype.is_none() ? x : x.to(dtype.cast<DType>());
    return sum(y, dims_from(dim), keepdim);
  }, arg("input"), arg("dim") = py::none(), arg("keepdim") = false, py::kw_only(), arg("dtype") = py::none());
  both(m, c, "mean", [](const Tensor& x, const py::object& dim, bool keepdim) { return mean(x, dims_from(dim), keepdim); },
       arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "var", [](const Tensor& x, const py::object& dim, bool unbiased, bool keepdim, const py::object& correction) {
    return var(x, dims_from(dim), correction.is_none() ? int64_t(unbiased) : correction.cast<int64_t>(), keepdim);
  }, arg("input"), arg("dim") = py::none(), arg("unbiased") = true, arg("keepdim") = false, py::kw_only(),
     arg("correction") = py::none());
  both(m, c, "std", [](const Tensor& x, const py::object& dim, bool unbiased, bool keepdim, const py::object& correction) {
    return nerve::std(x, dims_from(dim), correction.is_none() ? int64_t(unbiased) : correction.cast<int64_t>(), keepdim);
  }, arg("input"), arg("dim") = py::none(), arg("unbiased") = true, arg("keepdim") = false, py::kw_only(),
     arg("correction") = py::none());
  both(m, c, "max", [](const Tensor& x, const py::object& dim, bool keepdim) -> py::object {
    if (dim.is_none()) return py::cast(max(x));
    if (py::isinstance<Tensor>(dim)) return py::cast(maximum(x, dim.cast<Tensor>()));
    return pair(max(x, dim.cast<int64_t>(), keepdim));
  }, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "min", [](const Tensor& x, const py::object& dim, bool keepdim) -> py::object {
    if (dim.is_none()) return py::cast(min(x));
    if (py::isinstance<Tensor>(dim)) return py::cast(minimum(x, dim.cast<Tensor>()));
    return pair(min(x, dim.cast<int64_t>(), keepdim));
  }, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "amax", [](const Tensor& x, const py::object& dim, bool keepdim) { return amax(x, dims_from(dim), keepdim); },
       arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "amin", [](const Tensor& x, const py::object& dim, bool keepdim) { return amin(x, dims_from(dim), keepdim); },
       arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "logsumexp", [](const Tensor& x, const py::object& dim, bool keepdim) {
    return logsumexp(x, dims_from(dim), keepdim);
  }, arg("input"), arg("dim"), arg("keepdim") = false);
  both(m, c, "norm", [](const Tensor& x, double p, const py::object& dim, bool keepdim) {
    return norm(x, p, dims_from(dim), keepdim);
  }, arg("input"), arg("p") = 2.0, arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "argmax", [](const Tensor& x, const py::object& dim, bool keepdim) {
    return dim.is_none() ? argmax(x.reshape({-1}), 0) : argmax(x, dim.cast<int64_t>(), keepdim);
  }, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "argmin", [](const Tensor& x, const py::object& dim, bool keepdim) {
    return dim.is_none() ? argmin(x.reshape({-1}), 0) : argmin(x, dim.cast<int64_t>(), keepdim);
  }, arg("input"), arg("dim") = py::none(), arg("keepdim") = false);
  both(m, c, "topk", [](const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    return pair(topk(x, k, dim, largest, sorted));
  }, arg("input"), arg("k"), arg("dim") = -1, arg("largest") = true, arg("sorted") = true);
  both(m, c, "cumsum", &cumsum, arg("input"), arg("dim"));
  both(m, c, "softmax", &softmax, arg("input"), arg("dim"));
  both(m, c, "log_softmax", &log_softmax, arg("input"), arg("dim"));
  both(m, c, "all", [](const Tensor& x) { return eq(sum(logical_not(x)), scalar_tensor(0, DType::i64)); }, arg("input"));
  both(m, c, "any", [](const Tensor& x) { return gt(sum(ne(x, zeros({}, x.dtype()))), scalar_tensor(0, DType::i64)); },
       arg("input"));
  // selection
  m.def("where", [](const Tensor& cond, const py::object& a, const py::object& b) {
    Tensor ta = as_tensor(a), tb = as_tensor(b);
    if (!py::isinstance<Tensor>(a)) ta = ta.to(tb.dtype());
    if (!py::isinstance<Tensor>(b)) tb = tb.to(ta.dtype());
    return where(cond, ta, tb);
  }, arg("condition"), arg("input"), arg("other"));
  both(m, c, "masked_fill", [](const Tensor& x, const Tensor& mask, double v) { return masked_fill(x, mask, v); },
       arg("input"), arg("mask"), arg("value"));
  both(m, c, "masked_select", &masked_select, arg("input"), arg("mask"));
  both(m, c, "gather", &gather, arg("input"), arg("dim"), arg("index"));
  both(m, c, "index_select", &index_select, arg("input"), arg("dim"), arg("index"));
  both(m, c, "scatter_add", &scatter_add, arg("input"), arg("dim"), arg("index"), arg("src"));
  both(m, c, "scatter", &scatter, arg("input"), arg("dim"), arg("index"), arg("src"));
  both(m, c, "index_add", [](const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
    return index_add(x, dim, index, src, alpha);
  }, arg("input"), arg("dim"), arg("index"), arg("source"), py::kw_only(), arg("alpha") = 1.0);
  m.def("gelu", [](const Tensor& x, const std::string& approximate) { return gelu(x, approximate); }, arg("input"),
        py::kw_only(), arg("approximate") = "none");
}

void bind_functional(py::module_& m) {
  using py::arg;
  py::module_ f = m.def_submodule("functional", "nerve.nn.functional's C++ part");
  f.def("linear", [](const Tensor& x, const Tensor& w, const py::object& b) { return linear(x, w, opt(b)); },
        arg("input"), arg("weight"), arg("bias") = py::none());
  f.def("linear_relu", [](const Tensor& x, const Tensor& w, const py::object& b) { return linear_relu(x, w, opt(b)); },
        arg("input"), arg("weight"), arg("bias") = py::none());
  f.def("dropout", &nn::functional::dropout, arg("input"), arg("p") = 0.5, arg("training") = true);
  f.def("embedding", [](const Tensor& ids, const Tensor& w, const py::object& padding_idx) {
    return embedding(ids, w, padding_idx.is_none() ? std::nullopt : std::optional<int64_t>(padding_idx.cast<int64_t>()));
  }, arg("input"), arg("weight"), arg("padding_idx") = py::none());
  f.def("cross_entropy", [](const Tensor& x, const Tensor& y, const py::object& weight, int64_t ignore_index,
                            const std::string& red, double label_smoothing) {
    return cross_entropy(x, y, opt(weight), ignore_index, reduction(red), label_smoothing);
  }, arg("input"), arg("target"), arg("weight") = py::none(), arg("ignore_index") = -100, arg("reduction") = "mean",
     arg("label_smoothing") = 0.0);
  f.def("nll_loss", [](const Tensor& x, const Tensor& y, const py::object& weight, int64_t ignore_index,
                       const std::string& red) {
    return nll_loss(x, y, opt(weight), ignore_index, reduction(red));
  }, arg("input"), arg("target"), arg("weight") = py::none(), arg("ignore_index") = -100, arg("reduction") = "mean");
  f.def("mse_loss", [](const Tensor& x, const Tensor& y, const std::string& r) { return mse_loss(x, y, reduction(r)); },
        arg("input"), arg("target"), arg("reduction") = "mean");
  f.def("l1_loss", [](const Tensor& x, const Tensor& y, const std::string& r) { return l1_loss(x, y, reduction(r)); },
        arg("input"), arg("target"), arg("reduction") = "mean");
  f.def("huber_loss", [](const Tensor& x, const Tensor& y, const std::string& r, double delta) {
    return huber_loss(x, y, reduction(r), delta);
  }, arg("input"), arg("target"), arg("reduction") = "mean", arg("delta") = 1.0);
  f.def("binary_cross_entropy", [](const Tensor& x, const Tensor& y, const py::object& w, const std::string& r) {
    return binary_cross_entropy(x, y, opt(w), reduction(r));
  }, arg("input"), arg("target"), arg("weight") = py::none(), arg("reduction") = "mean");
  f.def("binary_cross_entropy_with_logits", [](const Tensor& x, const Tensor& y, const py::object& w,
                                               const std::string& r, const py::object& pos_weight) {
    return binary_cross_entropy_with_logits(x, y, opt(w), reduction(r), opt(pos_weight));
  }, arg("input"), arg("target"), arg("weight") = py::none(), arg("reduction") = "mean", arg("pos_weight") = py::none());
  f.def("one_hot", &one_hot, arg("tensor"), arg("num_classes") = -1);
  f.def("conv2d", [](const Tensor& x, const Tensor& w, const py::object& b, const py::object& stride,
                     const py::object& padding, const py::object& dilation, int64_t groups) {
    ConvPadding p = py::isinstance<py::str>(padding) ? ConvPadding(padding.cast<std::string>()) : ConvPadding(shape_from(padding));
    return conv2d(x, w, opt(b), shape_from(stride), p, shape_from(dilation), groups);
  }, arg("input"), arg("weight"), arg("bias") = py::none(), arg("stride") = 1, arg("padding") = 0, arg("dilation") = 1,
     arg("groups") = 1);
  f.def("max_pool2d", [](const Tensor& x, const py::object& k, const py::object& stride, const py::object& padding,
                         const py::object& dilation, bool ceil_mode) {
    return max_pool2d(x, shape_from(k), stride.is_none() ? Shape{} : shape_from(stride), shape_from(padding),
                      shape_from(dilation), ceil_mode);
  }, arg("input"), arg("kernel_size"), arg("stride") = py::none(), arg("padding") = 0, arg("dilation") = 1,
     arg("ceil_mode") = false);
  f.def("avg_pool2d", [](const Tensor& x, const py::object& k, const py::object& stride, const py::object& padding,
                         bool ceil_mode, bool count_include_pad) {
    return avg_pool2d(x, shape_from(k), stride.is_none() ? Shape{} : shape_from(stride), shape_from(padding), ceil_mode,
                      count_include_pad);
  }, arg("input"), arg("kernel_size"), arg("stride") = py::none(), arg("padding") = 0, arg("ceil_mode") = false,
     arg("count_include_pad") = true);
  f.def("adaptive_avg_pool2d", [](const Tensor& x, const py::object& s) { return adaptive_avg_pool2d(x, shape_from(s)); },
        arg("input"), arg("output_size"));
  f.def("adaptive_max_pool2d", [](const Tensor& x, const py::object& s) { return adaptive_max_pool2d(x, shape_from(s)); },
        arg("input"), arg("output_size"));
  f.def("layer_norm", [](const Tensor& x, const py::object& s, const py::object& w, const py::object& b, double eps) {
    return layer_norm(x, shape_from(s), opt(w), opt(b), eps);
  }, arg("input"), arg("normalized_shape"), arg("weight") = py::none(), arg("bias") = py::none(), arg("eps") = 1e-5);
  f.def("batch_norm", [](const Tensor& x, const py::object& rm, const py::object& rv, const py::object& w,
                         const py::object& b, bool training, double momentum, double eps) {
    return batch_norm(x, opt(rm), opt(rv), opt(w), opt(b), training, momentum, eps);
  }, arg("input"), arg("running_mean"), arg("running_var"), arg("weight") = py::none(), arg("bias") = py::none(),
     arg("training") = false, arg("momentum") = 0.1, arg("eps") = 1e-5);
  f.def("group_norm", [](const Tensor& x, int64_t g, const py::object& w, const py::object& b, double eps) {
    return group_norm(x, g, opt(w), opt(b), eps);
  }, arg("input"), arg("num_groups"), arg("weight") = py::none(), arg("bias") = py::none(), arg("eps") = 1e-5);
  f.def("pad", [](const Tensor& x, const py::object& pads, const std::string& mode, double value) {
    return pad(x, shape_from(pads), mode, value);
  }, arg("input"), arg("pad"), arg("mode") = "constant", arg("value") = 0.0);
  f.def("interpolate", [](const Tensor& x, const py::object& size, const py::object& scale, const std::string& mode,
                          bool align_corners) {
    return interpolate(x, size.is_none() ? Shape{} : shape_from(size), mode, align_corners,
                       scale.is_none() ? std::nullopt : std::optional<double>(scale.cast<double>()));
  }, arg("input"), arg("size") = py::none(), arg("scale_factor") = py::none(), arg("mode") = "nearest",
     arg("align_corners") = false);
}

}  // namespace

void bind_ops(py::module_& m) {
  py::class_<Tensor> c = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  bind_creation(m);
  bind_unary(m, c);
  bind_functions(m, c);
  bind_functional(m);

  m.def("call_op", &call_op, py::arg("name"),
        "Calls the registry op `name`: tensors positionally, attributes by keyword (nerve/ops/registry.h).");
  m.def("registry", [] {
    py::list out;
    for (const OpInfo& o : op_registry()) {
      py::dict d;
      d["name"] = o.name;
      d["group"] = o.group;
      d["differentiable"] = o.differentiable;
      d["params"] = o.params;
      out.append(d);
    }
    return out;
  }, "Every registered op: name, group, differentiable, the parameters of the table ops.");

  m.def("is_grad_enabled", &grad_enabled);
  m.def("set_grad_enabled", &set_grad_enabled, py::arg("mode"));
  m.def("manual_seed", [](uint64_t s) { manual_seed(s); }, py::arg("seed"));
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("get_num_threads", &get_num_threads);
  m.def("clip_grad_norm_", [](const std::vector<Tensor>& ps, double max_norm, double norm_type) {
    return optim::clip_grad_norm_(ps, max_norm, norm_type);
  }, py::arg("parameters"), py::arg("max_norm"), py::arg("norm_type") = 2.0);
  m.def("clip_grad_value_", &optim::clip_grad_value_, py::arg("parameters"), py::arg("clip_value"));
}

}  // namespace nerve::python

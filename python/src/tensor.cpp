// nerve._C.Tensor: the tensor handle with numpy interop (zero-copy both ways), properties, autograd, operators
// and PyTorch-style indexing (ints, slices, None, ..., bool and integer tensors).
#include <Python.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "bind.h"

namespace nerve::python {

// ---------------------------------------------------------------- conversions
Shape shape_from(const py::handle& o) {
  if (py::isinstance<py::int_>(o)) return {o.cast<int64_t>()};
  Shape s;
  for (py::handle v : o) s.push_back(py::cast<int64_t>(v));
  return s;
}

Shape shape_from_args(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0])) return shape_from(args[0]);
  Shape s;
  for (py::handle v : args) s.push_back(py::cast<int64_t>(v));
  return s;
}

Shape dims_from(const py::object& o) {
  if (o.is_none()) return {};
  return shape_from(o);
}

namespace {

const char* buffer_format(DType d) {
  switch (d) {
    case DType::f32: return "f";
    case DType::f64: return "d";
    case DType::i64: return "q";
    case DType::i32: return "i";
    case DType::u8: return "B";
    case DType::b8: return "?";
    case DType::i8: return "b";
    case DType::f16: return "e";
    case DType::bf16: break;
  }
  throw Error(detail::str_cat("numpy: ", dtype_name(d), " has no numpy dtype; convert with .float() first"));
}

DType dtype_from_numpy(const py::dtype& dt) {
  const char kind = dt.kind();
  const size_t size = dt.itemsize();
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 8) return DType::f64;
  if (kind == 'f' && size == 2) return DType::f16;
  if (kind == 'i' && size == 8) return DType::i64;
  if (kind == 'i' && size == 4) return DType::i32;
  if (kind == 'i' && size == 1) return DType::i8;
  if (kind == 'u' && size == 1) return DType::u8;
  if (kind == 'b') return DType::b8;
  throw py::type_error(detail::str_cat("nerve.from_numpy: numpy dtype ", py::repr(dt).cast<std::string>(),
                                       " is not supported (float32, float64, float16, int64, int32, int8, uint8, bool)"));
}

// Releases the Python reference a storage over numpy memory holds (with the GIL; never after the interpreter ended).
void release_py(void* handle) {
  if (!Py_IsInitialized()) return;
  py::gil_scoped_acquire gil;
  Py_DECREF(static_cast<PyObject*>(handle));
}

}  // namespace

Tensor from_numpy(const py::array& a) {
  const DType d = dtype_from_numpy(a.dtype());
  const int64_t item = static_cast<int64_t>(a.itemsize());
  Shape shape, strides;
  int64_t span = 1;  // elements from the first to one past the last
  bool empty = false;
  for (py::ssize_t k = 0; k < a.ndim(); ++k) {
    shape.push_back(a.shape(k));
    if (a.shape(k) == 0) empty = true;
    const py::ssize_t st = a.strides(k);
    if (st < 0 || st % item != 0) {  // negative or unaligned strides: a contiguous copy
      py::array c = py::module_::import("numpy").attr("ascontiguousarray")(a);
      return from_numpy(c);
    }
    strides.push_back(st / item);
    span += (a.shape(k) - 1) * (st / item);
  }
  if (empty) span = 0;
  PyObject* owner = a.ptr();
  Py_INCREF(owner);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(const_cast<void*>(a.data()), static_cast<size_t>(span * item),
                                            [owner](void*) { release_py(owner); });
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = d;
  return Tensor(impl);
}

py::array to_numpy(const Tensor& t) {
  t.check_defined("numpy");
  NERVE_CHECK(!t.is_meta(), "numpy: a meta tensor (shape ", to_string(t.shape()), ") has no values");
  const int64_t item = static_cast<int64_t>(itemsize(t.dtype()));
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(s * item);
  py::object base = py::cast(t);  // keeps the storage alive
  return py::array(py::dtype(buffer_format(t.dtype())), shape, strides, t.raw_data(), base);
}

namespace {

// A Python number as a 0-d tensor for an op with t: an int keeps an integer tensor's dtype (i64 + 1 stays i64),
// a float meets a floating tensor in its dtype and an integer one in f32 (PyTorch's rules).
Tensor scalar_for(const Tensor& t, const py::handle& s) {
  t.check_defined("scalar");
  if (py::isinstance<py::bool_>(s))
    return scalar_tensor(s.cast<bool>() ? 1.0 : 0.0, t.dtype() == DType::b8 ? DType::b8 : t.dtype());
  if (py::isinstance<py::int_>(s)) return scalar_tensor(s.cast<double>(), t.dtype() == DType::b8 ? DType::i64 : t.dtype());
  const double v = s.cast<double>();
  return scalar_tensor(v, is_floating(t.dtype()) ? t.dtype() : DType::f32);
}

}  // namespace

Tensor as_tensor(const py::handle& o) {
  if (py::isinstance<Tensor>(o)) return o.cast<Tensor>();
  if (py::isinstance<py::array>(o)) return from_numpy(o.cast<py::array>()).clone();
  if (py::isinstance<py::bool_>(o)) return scalar_tensor(o.cast<bool>(), DType::b8);
  if (py::isinstance<py::int_>(o)) return scalar_tensor(o.cast<double>(), DType::i64);
  if (py::isinstance<py::float_>(o)) return scalar_tensor(o.cast<double>(), DType::f32);
  py::array a = py::module_::import("numpy").attr("asarray")(o);
  if (a.dtype().kind() == 'f' && a.itemsize() == 8) a = a.attr("astype")("float32");  // Python floats: f32
  return from_numpy(a).clone();
}

namespace {

// ---------------------------------------------------------------- indexing
bool is_index_tensor(const py::handle& o) {
  return py::isinstance<Tensor>(o) || py::isinstance<py::array>(o) || py::isinstance<py::list>(o);
}

Tensor index_tensor(const py::handle& o) {
  Tensor t = as_tensor(o);
  if (t.dtype() == DType::i32 || t.dtype() == DType::u8) t = t.to(DType::i64);
  NERVE_CHECK(t.dtype() == DType::i64 || t.dtype() == DType::b8,
              "index: tensors used as indices must be long or bool tensors, got ", dtype_name(t.dtype()));
  return t;
}

// the positions where a 1-D bool tensor is true, as i64
Tensor true_positions(const Tensor& mask) {
  std::vector<bool> v;
  Tensor m = mask.contiguous();
  const bool* p = m.data<bool>();
  std::vector<int64_t> out;
  for (int64_t k = 0; k < m.numel(); ++k)
    if (p[k]) out.push_back(k);
  return from_vector<int64_t>(out);
}

// x[..., start:stop:step, ...] on dim d, as Python slices a sequence (an empty range gives an empty dim)
Tensor slice_dim(const Tensor& x, int64_t d, const py::handle& e) {
  Py_ssize_t start, stop, step;
  if (PySlice_Unpack(e.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
  if (step <= 0) throw py::value_error("step must be greater than zero");
  const Py_ssize_t n = PySlice_AdjustIndices(x.size(d), &start, &stop, step);
  if (n <= 0) return narrow(x, d, 0, 0);
  return slice(x, d, start, start + n * step, step);
}

py::tuple as_tuple(const py::handle& idx) {
  if (py::isinstance<py::tuple>(idx)) return idx.cast<py::tuple>();
  return py::make_tuple(idx);
}

// the dims an index entry consumes
int64_t consumed(const py::handle& e) {
  if (e.is_none() || e.ptr() == Py_Ellipsis) return 0;
  if (is_index_tensor(e)) {
    Tensor t = index_tensor(e);
    return t.dtype() == DType::b8 ? std::max<int64_t>(t.dim(), 1) : 1;
  }
  return 1;
}

// ---- several advanced indices in one expression (numpy's rules): x[i0, i1], x[:, idx, 1:3], x[mask, 0], ...
// Integer tensors, bool masks (their true positions, one index per masked dim) and, once a tensor index is present,
// plain ints too are "advanced" indices: they broadcast together to a shape B. Slices, None and ... apply first as
// views; the result has B in place of the advanced dims when those are adjacent, and first otherwise.
struct Advanced {
  Tensor view;                 // self after the basic indices (slices, None, ...): the advanced dims still whole
  std::vector<int64_t> dims;   // the dims of `view` the advanced indices index, in order
  std::vector<Tensor> index;   // i64, each expanded to `bshape` and contiguous
  Shape bshape;                // the broadcast shape of the indices
  bool adjacent = true;        // the advanced dims are consecutive (B goes where they were)
};

// the coordinates of a bool mask's true elements, one i64 tensor per mask dim (numpy's nonzero)
std::vector<Tensor> nonzero_coords(const Tensor& mask) {
  Tensor m = mask.contiguous();
  const bool* p = m.data<bool>();
  const int64_t k = m.dim();
  std::vector<std::vector<int64_t>> c(static_cast<size_t>(k));
  Shape pos(static_cast<size_t>(k), 0);
  for (int64_t n = 0; n < m.numel(); ++n) {
    if (p[n])
      for (int64_t j = 0; j < k; ++j) c[j].push_back(pos[j]);
    for (int64_t j = k - 1; j >= 0; --j) {  // next position, last dim fastest
      if (++pos[j] < m.size(j)) break;
      pos[j] = 0;
    }
  }
  std::vector<Tensor> out;
  for (auto& v : c) out.push_back(from_vector<int64_t>(v));
  return out;
}

bool needs_advanced(const py::tuple& idx) {
  int64_t tensors = 0, ints = 0;
  for (py::handle e : idx) {
    if (is_index_tensor(e)) ++tensors;
    else if (!e.is_none() && e.ptr() != Py_Ellipsis && !py::isinstance<py::slice>(e)) ++ints;
  }
  return tensors >= 2 || (tensors == 1 && ints >= 1);
}

Advanced advanced_index(const Tensor& self, const py::tuple& idx) {
  int64_t used = 0, ellipses = 0;
  for (py::handle e : idx) {
    used += consumed(e);
    ellipses += e.ptr() == Py_Ellipsis;
  }
  if (ellipses > 1) throw py::index_error("an index can only have a single ellipsis ('...')");
  if (used > self.dim())
    throw py::index_error(detail::str_cat("too many indices for tensor of dimension ", self.dim(), " (got ", used, ")"));
  Advanced a;
  Tensor x = self;
  int64_t d = 0;
  std::vector<Tensor> raw;
  for (py::handle e : idx) {
    if (e.is_none()) {
      x = unsqueeze(x, d++);
    } else if (e.ptr() == Py_Ellipsis) {
      d += self.dim() - used;
    } else if (py::isinstance<py::slice>(e)) {
      x = slice_dim(x, d++, e);
    } else if (is_index_tensor(e)) {
      Tensor t = index_tensor(e);
      if (t.dtype() == DType::b8) {
        if (t.dim() == 0)
          throw py::index_error("nerve: a 0-d bool index (x[True]) cannot be combined with other tensor indices");
        for (int64_t j = 0; j < t.dim(); ++j)
          NERVE_CHECK(t.size(j) == x.size(d + j), "index: the mask of shape ", to_string(t.shape()),
                      " does not match the indexed tensor's shape ", to_string(x.shape()), " at dim ", d + j);
        for (Tensor& c : nonzero_coords(t)) {
          a.dims.push_back(d++);
          raw.push_back(c);
        }
      } else {
        a.dims.push_back(d++);
        raw.push_back(t);
      }
    } else {
      a.dims.push_back(d++);
      raw.push_back(scalar_tensor(static_cast<double>(py::cast<int64_t>(e)), DType::i64));
    }
  }
  for (size_t j = 0; j < raw.size(); ++j) {
    a.bshape = j == 0 ? raw[0].shape() : broadcast_shapes(a.bshape, raw[j].shape(), "index");
    if (j > 0 && a.dims[j] != a.dims[j - 1] + 1) a.adjacent = false;
  }
  // bounds, negative indices wrapped (on copies: the caller's index tensors are not changed)
  for (size_t j = 0; j < raw.size(); ++j) {
    Tensor t = raw[j].expand(a.bshape).contiguous().clone();
    int64_t* p = t.data<int64_t>();
    const int64_t n = x.size(a.dims[j]);
    for (int64_t k = 0; k < t.numel(); ++k) {
      if (p[k] < -n || p[k] >= n)
        throw py::index_error(detail::str_cat("index ", p[k], " is out of bounds for dimension ", a.dims[j],
                                              " with size ", n));
      if (p[k] < 0) p[k] += n;
    }
    a.index.push_back(t);
  }
  a.view = x;
  return a;
}

// the permutation of `view` with the advanced dims first, the others after in order
Shape advanced_first(const Advanced& a) {
  Shape perm(a.dims.begin(), a.dims.end());
  for (int64_t k = 0; k < a.view.dim(); ++k)
    if (std::find(a.dims.begin(), a.dims.end(), k) == a.dims.end()) perm.push_back(k);
  return perm;
}

// the permutation that moves dims [0, nb) (B, first) to position `at` among the others (numpy: adjacent indices)
Shape b_to(int64_t nb, int64_t rest, int64_t at) {
  Shape perm;
  for (int64_t k = 0; k < at; ++k) perm.push_back(nb + k);
  for (int64_t k = 0; k < nb; ++k) perm.push_back(k);
  for (int64_t k = at; k < rest; ++k) perm.push_back(nb + k);
  return perm;
}

Tensor getitem_advanced(const Tensor& self, const py::tuple& idx) {
  Advanced a = advanced_index(self, idx);
  Tensor z = a.view.permute(advanced_first(a));
  // the advanced dims flattened to one: the linear position of each indexed element, then one index_select
  Shape flat{1};
  int64_t rows = 1;
  for (int64_t d : a.dims) rows *= a.view.size(d);
  flat[0] = rows;
  for (int64_t k = static_cast<int64_t>(a.dims.size()); k < z.dim(); ++k) flat.push_back(z.size(k));
  const int64_t nb = static_cast<int64_t>(a.bshape.size()), count = numel(a.bshape);
  std::vector<int64_t> lin(static_cast<size_t>(count), 0);
  for (size_t j = 0; j < a.index.size(); ++j) {
    const int64_t* p = a.index[j].data<int64_t>();
    const int64_t n = a.view.size(a.dims[j]);
    for (int64_t k = 0; k < count; ++k) lin[k] = lin[k] * n + p[k];
  }
  Tensor y = index_select(z.reshape(flat), 0, from_vector<int64_t>(lin));
  Shape out = a.bshape;
  out.insert(out.end(), flat.begin() + 1, flat.end());
  y = y.reshape(out);
  const int64_t rest = static_cast<int64_t>(flat.size()) - 1;
  if (a.adjacent && a.dims[0] > 0) y = y.permute(b_to(nb, rest, a.dims[0]));
  return y;
}

// x[i0, i1, ...] = v: v broadcast to the shape x[i0, i1, ...] would have; duplicate positions: the last one wins
void setitem_advanced(Tensor& self, const py::tuple& idx, const py::handle& value, bool number) {
  Advanced a = advanced_index(self, idx);
  Tensor z = a.view.permute(advanced_first(a));  // a view of self
  const int64_t nb = static_cast<int64_t>(a.bshape.size()), k = static_cast<int64_t>(a.dims.size());
  const int64_t count = numel(a.bshape), rest = z.dim() - k;
  Tensor src;
  if (!number) {
    Shape res = a.bshape;  // the result shape of the read, B first
    for (int64_t j = k; j < z.dim(); ++j) res.push_back(z.size(j));
    Shape shown = res;     // as the read returns it (B moved when adjacent)
    Shape to_first;        // and back to B first
    if (a.adjacent && a.dims[0] > 0) {
      const Shape perm = b_to(nb, rest, a.dims[0]);
      to_first.assign(perm.size(), 0);
      for (size_t j = 0; j < perm.size(); ++j) {
        shown[j] = res[perm[j]];
        to_first[perm[j]] = static_cast<int64_t>(j);
      }
    }
    src = as_tensor(value);
    if (src.dtype() != self.dtype()) src = src.to(self.dtype());
    NERVE_CHECK(src.dim() <= static_cast<int64_t>(shown.size()), "index_put: a value of shape ",
                to_string(src.shape()), " cannot be broadcast to the indexed shape ", to_string(shown));
    src = expand(src, broadcast_shapes(src.shape(), shown, "index_put"));
    NERVE_CHECK(src.shape() == shown, "index_put: a value of shape ", to_string(src.shape()),
                " cannot be broadcast to the indexed shape ", to_string(shown));
    if (!to_first.empty()) src = src.permute(to_first);
    Shape rows{count};
    rows.insert(rows.end(), res.begin() + nb, res.end());
    src = src.reshape(rows);
  }
  std::vector<const int64_t*> p;
  for (const Tensor& t : a.index) p.push_back(t.data<int64_t>());
  const double v = number ? value.cast<double>() : 0.0;
  // every index names one element and no autograd is involved (nothing requires grad, or under no_grad): the
  // elements are written straight into self's storage, one offset each (x[rows, cols] = v over 100,000 positions:
  // one loop instead of 100,000 selects + fills)
  const bool no_autograd = !grad_enabled() || (!self.requires_grad() && (number || !src.requires_grad()));
  if (rest == 0 && no_autograd && !is_storage_only(self.dtype()) && !self.is_meta()) {
    const Shape& st = z.strides();
    Tensor vals = number ? Tensor() : src.reshape({count}).contiguous();
    visit_dtype(self.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* base = z.data<T>();
      const T* in = number ? nullptr : vals.data<T>();
      const T fill = static_cast<T>(v);
      for (int64_t n = 0; n < count; ++n) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; ++j) off += p[j][n] * st[j];
        base[off] = number ? fill : in[n];
      }
    });
    self.bump_version();
    return;
  }
  for (int64_t n = 0; n < count; ++n) {
    Tensor target = z;
    for (int64_t j = 0; j < k; ++j) target = select(target, 0, p[j][n]);
    if (number) {
      target.fill_(v);
    } else {
      target.copy_(select(src, 0, n));
    }
  }
}

/// x[idx] (a view unless a tensor index is used).
Tensor getitem(const Tensor& self, const py::handle& idx_obj) {
  self.check_defined("__getitem__");
  py::tuple idx = as_tuple(idx_obj);
  if (needs_advanced(idx)) return getitem_advanced(self, idx);
  int64_t used = 0, ellipses = 0, tensors = 0;
  for (py::handle e : idx) {
    used += consumed(e);
    ellipses += e.ptr() == Py_Ellipsis;
    tensors += is_index_tensor(e);
  }
  if (ellipses > 1) throw py::index_error("an index can only have a single ellipsis ('...')");
  if (used > self.dim())
    throw py::index_error(detail::str_cat("too many indices for tensor of dimension ", self.dim(), " (got ", used, ")"));
  if (tensors > 1)
    throw py::index_error("nerve: one tensor (advanced) index per indexing expression is supported; index in steps");
  Tensor x = self;
  int64_t d = 0;
  for (py::handle e : idx) {
    if (e.is_none()) {
      x = unsqueeze(x, d++);
    } else if (e.ptr() == Py_Ellipsis) {
      d += self.dim() - used;
    } else if (py::isinstance<py::slice>(e)) {
      x = slice_dim(x, d++, e);
    } else if (is_index_tensor(e)) {
      Tensor t = index_tensor(e);
      if (t.dtype() == DType::b8) {
        if (t.dim() == x.dim() - d && d == 0 && t.dim() > 1) {
          NERVE_CHECK(t.shape() == x.shape(), "index: the mask of shape ", to_string(t.shape()),
                      " does not match the indexed tensor's shape ", to_string(x.shape()));
          x = masked_select(x, t);
          d = 1;
          continue;
        }
        NERVE_CHECK(t.dim() <= 1, "index: a ", t.dim(), "-d bool mask must cover the whole tensor (shape ",
                    to_string(x.shape()), ")");
        if (t.dim() == 0) {  // x[True] adds a dim, x[False] an empty one
          x = unsqueeze(x, d);
          if (!t.item<bool>()) x = narrow(x, d, 0, 0);
          ++d;
          continue;
        }
        NERVE_CHECK(t.size(0) == x.size(d), "index: the mask of length ", t.size(0), " does not match dim ", d,
                    " of size ", x.size(d));
        t = true_positions(t);
      }
      Shape out = x.shape();
      Tensor flat = t.reshape({-1});
      Tensor y = index_select(x, d, flat);
      out.erase(out.begin() + d);
      out.insert(out.begin() + d, t.shape().begin(), t.shape().end());
      x = y.reshape(out);
      d += t.dim();
    } else {
      const int64_t n = x.size(d);
      int64_t i = py::cast<int64_t>(e);
      if (i < -n || i >= n)
        throw py::index_error(detail::str_cat("index ", i, " is out of bounds for dimension ", d, " with size ", n));
      x = select(x, d, i < 0 ? i + n : i);
    }
  }
  return x;
}

void setitem(Tensor& self, const py::handle& idx, const py::handle& value) {
  self.check_defined("__setitem__");
  py::tuple t = as_tuple(idx);
  const bool number = py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value) ||
                      py::isinstance<py::bool_>(value);
  bool any_tensor = false;
  for (py::handle e : t) any_tensor = any_tensor || is_index_tensor(e);
  // several indices with a tensor among them (x[i0, i1] = v, x[:, idx] = v, x[mask, 0] = v)
  if (any_tensor && t.size() > 1) return setitem_advanced(self, t, value, number);
  // x[mask] = v with a full-shape bool mask
  if (t.size() == 1 && is_index_tensor(t[0])) {
    Tensor m = index_tensor(t[0]);
    if (m.dtype() == DType::b8 && m.shape() == self.shape()) {
      if (number) {
        self.masked_fill_(m, value.cast<double>());
      } else {
        self.copy_(where(m, as_tensor(value).to(self.dtype()), self));
      }
      return;
    }
    // x[index] = v along dim 0, one row at a time
    if (m.dtype() == DType::b8) m = true_positions(m);
    m = m.reshape({-1});
    Tensor src = number ? Tensor() : as_tensor(value).to(self.dtype());
    const int64_t* p = m.contiguous().data<int64_t>();
    for (int64_t k = 0; k < m.numel(); ++k) {
      Tensor row = getitem(self, py::int_(p[k]));
      if (number) {
        row.fill_(value.cast<double>());
      } else {
        row.copy_(src.dim() > row.dim() ? select(src, 0, k) : src);
      }
    }
    return;
  }
  Tensor view = getitem(self, idx);
  if (number) {
    view.fill_(value.cast<double>());
  } else {
    Tensor src = as_tensor(value);
    view.copy_(src.dtype() == view.dtype() ? src : src.to(view.dtype()));
  }
}

py::object item(const Tensor& t) {
  t.check_defined("item");
  NERVE_CHECK(t.numel() == 1, "item: a Tensor with ", t.numel(), " elements cannot be converted to Scalar (shape ",
              to_string(t.shape()), ")");
  switch (t.dtype()) {
    case DType::f32: return py::float_(t.item<float>());
    case DType::f64: return py::float_(t.item<double>());
    case DType::b8: return py::bool_(t.item<bool>());
    case DType::i64: return py::int_(t.item<int64_t>());
    case DType::i32: return py::int_(t.item<int32_t>());
    case DType::u8: return py::int_(t.item<uint8_t>());
    default: return py::float_(t.to(DType::f64).item<double>());
  }
}

std::string dtype_repr(DType d) {
  switch (d) {
    case DType::f32: return "nerve.float32";
    case DType::f64: return "nerve.float64";
    case DType::i64: return "nerve.int64";
    case DType::i32: return "nerve.int32";
    case DType::u8: return "nerve.uint8";
    case DType::b8: return "nerve.bool";
    case DType::bf16: return "nerve.bfloat16";
    case DType::f16: return "nerve.float16";
    case DType::i8: return "nerve.int8";
  }
  return "nerve.?";
}

// ---------------------------------------------------------------- .to and .data
// a dtype from nerve's dtype or from an object printing as one of torch's ("torch.float64"): None when it is neither
std::optional<DType> dtype_of(const py::handle& o) {
  if (py::isinstance<DType>(o)) return o.cast<DType>();
  if (py::isinstance<py::str>(o) || py::isinstance<Tensor>(o)) return std::nullopt;
  const std::string s = py::str(o);
  if (s.rfind("torch.", 0) != 0) return std::nullopt;
  py::object members = py::module_::import("nerve._C").attr("dtype").attr("__members__");
  const std::string name = s.substr(6);
  if (!members.contains(name)) throw py::type_error(detail::str_cat("to: nerve has no dtype for ", s));
  return members[name.c_str()].cast<DType>();
}

// "cpu", "cpu:0", torch.device("cpu"), "meta"; None when o is not a device
std::optional<Device> device_of(const py::handle& o) {
  if (py::isinstance<Tensor>(o) || py::isinstance<DType>(o)) return std::nullopt;
  const std::string s = py::str(o);
  if (s == "cpu" || s == "cpu:0") return Device::cpu;
  if (s == "meta") return Device::meta;
  if (py::isinstance<py::str>(o) || py::hasattr(o, "type"))
    throw Error(detail::str_cat("to: unknown device '", s, "' (nerve runs on cpu; meta for shapes alone)"));
  return std::nullopt;
}

// torch 1.13's forms: x.to(dtype), x.to(device[, dtype]), x.to(other), keywords device=, dtype=, non_blocking=, copy=
Tensor tensor_to(const Tensor& t, const py::args& args, const py::kwargs& kwargs) {
  t.check_defined("to");
  std::optional<DType> dtype;
  std::optional<Device> device;
  bool copy = false;
  int bools = 0;
  for (size_t k = 0; k < args.size(); ++k) {
    py::handle a = args[k];
    if (py::isinstance<Tensor>(a) && k == 0) {
      const Tensor& o = a.cast<const Tensor&>();
      o.check_defined("to");
      dtype = o.dtype();
      device = o.is_meta() ? Device::meta : Device::cpu;
    } else if (auto d = dtype_of(a)) {
      dtype = d;
    } else if (auto dev = device_of(a); dev && k == 0) {
      device = dev;
    } else if (py::isinstance<py::bool_>(a) && k > 0) {  // non_blocking, then copy (positional in torch)
      if (++bools == 2) copy = a.cast<bool>();
    } else {
      throw py::type_error(detail::str_cat("to(): argument ", k, " (", py::repr(a).cast<std::string>(),
                                           ") is not a dtype, a device or a tensor"));
    }
  }
  for (auto kv : kwargs) {
    const std::string key = kv.first.cast<std::string>();
    if (key == "dtype") {
      if (!kv.second.is_none()) {
        dtype = dtype_of(kv.second);
        if (!dtype) throw py::type_error("to(): dtype= must be a dtype, got " + py::repr(kv.second).cast<std::string>());
      }
    } else if (key == "device") {
      if (!kv.second.is_none()) device = device_of(kv.second);
    } else if (key == "copy") {
      copy = kv.second.cast<bool>();
    } else if (key != "non_blocking" && key != "memory_format") {
      throw py::type_error("to() got an unexpected keyword argument '" + key + "'");
    }
  }
  Tensor r = t;
  if (device && *device != (t.is_meta() ? Device::meta : Device::cpu)) r = r.to(*device);
  if (dtype && *dtype != r.dtype()) r = r.to(*dtype);
  if (copy && r.impl() == t.impl()) r = t.clone();
  return r;
}

void set_data(Tensor& t, const Tensor& src) {
  t.check_defined("data");
  src.check_defined("data");
  TensorImpl* d = t.impl();
  const TensorImpl* s = src.impl();
  if (d == s) return;
  d->storage = s->storage;
  d->shape = s->shape;
  d->strides = s->strides;
  d->offset = s->offset;
  d->dtype = s->dtype;
}

py::object opt_tensor(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

// a Python or numpy number (bool, int, float, np.float32(1), ...), not a string or a sequence
bool is_number(const py::handle& o) {
  return PyBool_Check(o.ptr()) || PyLong_Check(o.ptr()) || PyFloat_Check(o.ptr()) ||
         (PyNumber_Check(o.ptr()) && !PySequence_Check(o.ptr()));
}

// a binary op with a tensor, numpy array or Python number on the right (or left when `reflected`)
template <class F>
void def_binary(py::class_<Tensor>& c, const char* name, const char* rname, F f) {
  c.def(name, [f](const Tensor& a, const Tensor& b) { return f(a, b); }, py::is_operator());
  c.def(name, [f](const Tensor& a, const py::object& b) -> py::object {
    if (py::isinstance<py::array>(b)) return py::cast(f(a, as_tensor(b)));
    if (!is_number(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);  // a TypeError in Python
    return py::cast(f(a, scalar_for(a, b)));
  }, py::is_operator());
  if (rname)
    c.def(rname, [f](const Tensor& a, const py::object& b) -> py::object {
      if (py::isinstance<Tensor>(b)) return py::cast(f(b.cast<Tensor>(), a));  // Tensor + Parameter: Parameter.__radd__
      if (py::isinstance<py::array>(b)) return py::cast(f(as_tensor(b), a));
      if (!is_number(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      return py::cast(f(scalar_for(a, b), a));
    }, py::is_operator());
}

// ---------------------------------------------------------------- the fast path of the binary operators
// a + b of two tensors is the most frequent call from Python: the type's number slots go straight to the op for two
// tensors (no overload resolution, argument loaders or type-map lookups) and to pybind11's dispatch otherwise
// (numbers, arrays, errors in an operand's type).
PyTypeObject* g_tensor_type = nullptr;
PyObject* g_error_type = nullptr;

Tensor* tensor_of(PyObject* o) {
  if (!PyObject_TypeCheck(o, g_tensor_type)) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(o);
  return inst->simple_layout ? static_cast<Tensor*>(inst->simple_value_holder[0]) : nullptr;
}

Tensor true_div(const Tensor& a, const Tensor& b) {
  // true division: integer operands divide as floats (PyTorch)
  if (!is_floating(a.dtype()) && !is_floating(b.dtype())) return div(a.to(DType::f32), b.to(DType::f32));
  return div(a, b);
}

template <int Op>
Tensor apply_binary(const Tensor& a, const Tensor& b) {
  if constexpr (Op == 0) return add(a, b);
  if constexpr (Op == 1) return sub(a, b);
  if constexpr (Op == 2) return mul(a, b);
  if constexpr (Op == 3) return true_div(a, b);
  if constexpr (Op == 4) return matmul(a, b);
}

// anything but two tensors: the bound methods, as Python's own slot would call them (a.__add__(b), then
// b.__radd__(a) when that is NotImplemented; CPython's generic slot is not used: it tests that it is the slot)
PyObject* slow_binary(int op, PyObject* a, PyObject* b) {
  static const char* names[5] = {"__add__", "__sub__", "__mul__", "__truediv__", "__matmul__"};
  static const char* rnames[5] = {"__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rmatmul__"};
  if (PyObject_TypeCheck(a, g_tensor_type)) {
    PyObject* r = PyObject_CallMethod(a, names[op], "O", b);
    if (r != Py_NotImplemented) return r;  // a result, or NULL with the error set
    Py_DECREF(r);
  }
  if (PyObject_TypeCheck(b, g_tensor_type)) return PyObject_CallMethod(b, rnames[op], "O", a);
  Py_RETURN_NOTIMPLEMENTED;
}

// A new Python Tensor owning t, built as pybind11 builds one (tp_alloc, the simple value/holder layout, the instance
// registered, a unique_ptr holder) without its generic cast: no type lookup by std::type_index (a string hash), no
// search for an existing instance of the same pointer (a fresh tensor has none), no all-type-info cache lookup.
py::detail::type_info* g_tensor_tinfo = nullptr;

PyObject* wrap_new(Tensor&& t) {
  PyObject* self = g_tensor_type->tp_alloc(g_tensor_type, 0);  // zero-filled: flags false, pointers null
  if (!self) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  inst->simple_layout = true;
  auto* value = new Tensor(std::move(t));
  inst->simple_value_holder[0] = value;
  inst->owned = true;
  py::detail::register_instance(inst, value, g_tensor_tinfo);
  inst->simple_instance_registered = true;
  new (&inst->simple_value_holder[1]) std::unique_ptr<Tensor>(value);
  inst->simple_holder_constructed = true;
  return self;
}

template <int Op>
PyObject* fast_binary(PyObject* a, PyObject* b) {
  Tensor* x = tensor_of(a);
  Tensor* y = x ? tensor_of(b) : nullptr;
  if (!y) return slow_binary(Op, a, b);
  try {
    return wrap_new(apply_binary<Op>(*x, *y));
  } catch (const Error& e) {
    PyErr_SetString(g_error_type, e.what());
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// a += b, a -= b, a *= b: in place, as torch (a keeps its storage; views of it see the change), for a tensor or a
// Python number b. When autograd would have to record it (grad mode on and an operand requiring grad: nerve's
// in-place ops are not recorded), the out-of-place op runs instead and Python rebinds the name, so gradients stay
// right. Anything else (arrays, division, @) keeps Python's fallback to the binary operator.
template <int Op>
PyObject* fast_inplace(PyObject* a, PyObject* b) {
  Tensor* x = tensor_of(a);
  Tensor* y = x ? tensor_of(b) : nullptr;
  if (!x || (!y && !PyFloat_Check(b) && !PyLong_Check(b))) return fast_binary<Op>(a, b);
  try {
    Tensor scalar;
    if (!y) {
      scalar = scalar_for(*x, py::handle(b));
      if (scalar.dtype() != x->dtype()) return fast_binary<Op>(a, b);  // i64 += 0.5: a float result, out of place
    }
    const Tensor& o = y ? *y : scalar;
    if (grad_enabled() && (x->requires_grad() || o.requires_grad())) return fast_binary<Op>(a, b);
    if constexpr (Op == 0) x->add_(o);
    if constexpr (Op == 1) x->add_(o, -1.0);
    if constexpr (Op == 2) x->mul_(o);
    Py_INCREF(a);
    return a;
  } catch (const Error& e) {
    PyErr_SetString(g_error_type, e.what());
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

void install_fast_binary(const py::handle& type, const py::handle& error) {
  g_tensor_type = reinterpret_cast<PyTypeObject*>(type.ptr());
  g_error_type = error.ptr();
  g_tensor_tinfo = py::detail::get_type_info(typeid(Tensor));
  // wrap_new's assumptions: one registered C++ type with a holder that fits the simple layout, no multiple bases
  NERVE_ASSERT(g_tensor_tinfo && g_tensor_tinfo->type == g_tensor_type && g_tensor_tinfo->simple_ancestors &&
                   g_tensor_tinfo->holder_size_in_ptrs <= py::detail::instance_simple_holder_in_ptrs() &&
                   py::detail::all_type_info(g_tensor_type).size() == 1,
               "python: Tensor's pybind11 layout is not the simple one the fast path builds");
  PyNumberMethods* nb = g_tensor_type->tp_as_number;
  binaryfunc* slots[5] = {&nb->nb_add, &nb->nb_subtract, &nb->nb_multiply, &nb->nb_true_divide,
                          &nb->nb_matrix_multiply};
  binaryfunc fast[5] = {fast_binary<0>, fast_binary<1>, fast_binary<2>, fast_binary<3>, fast_binary<4>};
  for (int k = 0; k < 5; ++k) {
    NERVE_ASSERT(*slots[k] != nullptr, "python: Tensor has no binary number slot ", k);
    *slots[k] = fast[k];
  }
  NERVE_ASSERT(nb->nb_inplace_add == nullptr && nb->nb_inplace_subtract == nullptr &&
                   nb->nb_inplace_multiply == nullptr, "python: Tensor already has in-place number slots");
  nb->nb_inplace_add = fast_inplace<0>;
  nb->nb_inplace_subtract = fast_inplace<1>;
  nb->nb_inplace_multiply = fast_inplace<2>;
  PyType_Modified(g_tensor_type);
}

// ---- the unary ops without parameters, x.relu() and nerve.relu(x): a plain CPython function per op that runs the op
// for a single tensor argument and hands anything else (keywords, more arguments, non-tensors) to the pybind11
// binding it replaces
template <Tensor (*F)(const Tensor&)>
struct FastUnary {
  static inline PyObject* method_orig = nullptr;    // the pybind11 method Tensor.<name>
  static inline PyObject* function_orig = nullptr;  // the pybind11 function nerve._C.<name>

  static PyObject* run(const Tensor& x) {
    try {
      return wrap_new(F(x));
    } catch (const Error& e) {
      PyErr_SetString(g_error_type, e.what());
    } catch (py::error_already_set& e) {
      e.restore();
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
  }
  static PyObject* slow(PyObject* fn, PyObject* first, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    // fn(first, *args, **kw): the vectorcall convention with one more positional argument in front
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    std::vector<PyObject*> all;
    if (first) all.push_back(first);
    all.insert(all.end(), args, args + nargs + nkw);
    return PyObject_Vectorcall(fn, all.data(), static_cast<size_t>(all.size() - nkw), kwnames);
  }
  static PyObject* method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    Tensor* x = tensor_of(self);
    if (x && nargs == 0 && !kwnames) return run(*x);
    return slow(method_orig, self, args, nargs, kwnames);
  }
  static PyObject* function(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    Tensor* x = nargs == 1 && !kwnames ? tensor_of(args[0]) : nullptr;
    if (x) return run(*x);
    return slow(function_orig, nullptr, args, nargs, kwnames);
  }
};

template <Tensor (*F)(const Tensor&)>
void install_unary(py::module_& m, const char* name) {
  using U = FastUnary<F>;
  PyObject* type = reinterpret_cast<PyObject*>(g_tensor_type);
  // leaked on purpose: the definitions and the replaced bindings live as long as the type and the module
  U::method_orig = PyObject_GetAttrString(type, name);
  U::function_orig = PyObject_GetAttrString(m.ptr(), name);
  if (!U::method_orig || !U::function_orig) throw py::error_already_set();
  auto* mdef = new PyMethodDef{name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&U::method)),
                               METH_FASTCALL | METH_KEYWORDS, nullptr};
  auto* fdef = new PyMethodDef{name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&U::function)),
                               METH_FASTCALL | METH_KEYWORDS, nullptr};
  py::object descr = py::reinterpret_steal<py::object>(PyDescr_NewMethod(g_tensor_type, mdef));
  py::object fn = py::reinterpret_steal<py::object>(PyCFunction_NewEx(fdef, nullptr, m.attr("__name__").ptr()));
  if (!descr || !fn) throw py::error_already_set();
  py::setattr(m, name, fn);
  if (PyObject_SetAttrString(type, name, descr.ptr()) < 0) throw py::error_already_set();
}

// the ops with no parameter in unary_ops.def (P0); those with parameters keep pybind11's binding
#define NERVE_FAST_P0() NERVE_FAST_INSTALL
#define NERVE_FAST_P1(a, da) NERVE_FAST_SKIP
#define NERVE_FAST_P2(a, da, b, db) NERVE_FAST_SKIP
#define NERVE_FAST_INSTALL(name) install_unary<static_cast<Tensor (*)(const Tensor&)>(&nerve::name)>(m, #name);
#define NERVE_FAST_SKIP(name)
void install_fast_unary(py::module_& m) {
#define NERVE_UNARY(name, params, ...) NERVE_FAST_##params(name)
#define NERVE_UNARY_FAST NERVE_UNARY
#define NERVE_UNARY_HIDDEN(...)
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
}

}  // namespace

void bind_fast_paths(py::module_& m) {
  install_fast_binary(m.attr("Tensor"), m.attr("Error"));
  install_fast_unary(m);
}

void bind_tensor(py::module_& m) {
  py::enum_<DType>(m, "dtype")
      .value("float32", DType::f32)
      .value("float64", DType::f64)
      .value("int64", DType::i64)
      .value("int32", DType::i32)
      .value("uint8", DType::u8)
      .value("bool", DType::b8)
      .value("bfloat16", DType::bf16)
      .value("float16", DType::f16)
      .value("int8", DType::i8)
      .def("__repr__", [](DType d) { return dtype_repr(d); })
      .def("__str__", [](DType d) { return dtype_repr(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); });

  py::class_<Tensor> c(m, "Tensor", py::buffer_protocol(), py::dynamic_attr());
  c.def(py::init<>())
      .def(py::init([](const Tensor& t) { return t; }))
      .def_buffer([](const Tensor& t) {
        t.check_defined("buffer");
        NERVE_CHECK(!t.is_meta(), "buffer: a meta tensor has no values");
        const int64_t item = static_cast<int64_t>(itemsize(t.dtype()));
        std::vector<py::ssize_t> strides;
        for (int64_t s : t.strides()) strides.push_back(s * item);
        return py::buffer_info(t.raw_data(), item, buffer_format(t.dtype()), t.dim(),
                               std::vector<py::ssize_t>(t.shape().begin(), t.shape().end()), strides);
      })
      .def("numpy", [](const Tensor& t) {
        if (t.requires_grad())
          throw py::value_error("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
        return to_numpy(t);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def("size", [](const Tensor& t, const py::object& dim) -> py::object {
        if (dim.is_none()) return py::tuple(py::cast(t.shape()));
        return py::int_(t.size(dim.cast<int64_t>()));
      }, py::arg("dim") = py::none())
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("ndim", &Tensor::dim)
      .def("dim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("stride", [](const Tensor& t) { return py::tuple(py::cast(t.strides())); })
      .def("storage_offset", &Tensor::offset)
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def_property_readonly("device", [](const Tensor& t) { return t.is_meta() ? "meta" : "cpu"; })
      .def_property_readonly("is_meta", &Tensor::is_meta)
      .def("item", &item)
      .def("__repr__", &Tensor::to_string)
      .def("__len__", [](const Tensor& t) {
        if (t.dim() == 0) throw py::type_error("len() of a 0-d tensor");
        return t.size(0);
      })
      .def("__bool__", [](const Tensor& t) { return item(t).cast<bool>(); })
      .def("__float__", [](const Tensor& t) { return item(t).cast<double>(); })
      .def("__int__", [](const Tensor& t) { return py::int_(item(t)); })
      .def("__index__", [](const Tensor& t) {
        if (is_floating(t.dtype())) throw py::type_error("only integer tensors of a single element can be converted to an index");
        return item(t).cast<int64_t>();
      })
      .def("__getitem__", &getitem)
      .def("__setitem__", &setitem)
      // autograd
      .def_property("requires_grad", &Tensor::requires_grad, [](Tensor& t, bool on) { t.requires_grad_(on); })
      .def("requires_grad_", [](Tensor& t, bool on) { return t.requires_grad_(on); }, py::arg("requires_grad") = true)
      .def_property("grad", [](const Tensor& t) { return opt_tensor(t.grad()); },
                    [](Tensor& t, const py::object& g) { t.set_grad(g.is_none() ? Tensor() : g.cast<Tensor>()); })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property_readonly("grad_fn", [](const Tensor& t) -> py::object {
        return t.grad_fn() ? py::cast(t.grad_fn()->name()) : py::none();
      })
      .def("backward", [](const Tensor& t, const py::object& gradient, bool retain_graph) {
        Tensor g = gradient.is_none() ? Tensor() : as_tensor(gradient);
        py::gil_scoped_release release;
        t.backward(g, retain_graph);
      }, py::arg("gradient") = py::none(), py::arg("retain_graph") = false)
      .def("detach", &Tensor::detach)
      .def("detach_", [](Tensor& t) {
        t.impl()->grad_fn.reset();
        t.impl()->requires_grad = false;
        return t;
      })
      .def_property_readonly("_version", &Tensor::version)
      // copies and dtypes
      .def("clone", &Tensor::clone)
      .def("contiguous", &Tensor::contiguous)
      .def("to", &tensor_to)
      // torch's x.data: a detached view; `p.data = t` swaps p's storage, layout and dtype in place (the Python object,
      // and a C++ module holding the same tensor, see the new values; Module.to/.double() use it)
      .def_property("data", [](const Tensor& t) { return t.detach(); }, &set_data)
      .def("type", [](const Tensor& t, DType d) { return t.to(d); })
      .def("float", [](const Tensor& t) { return t.to(DType::f32); })
      .def("double", [](const Tensor& t) { return t.to(DType::f64); })
      .def("long", [](const Tensor& t) { return t.to(DType::i64); })
      .def("int", [](const Tensor& t) { return t.to(DType::i32); })
      .def("bool", [](const Tensor& t) { return t.to(DType::b8); })
      .def("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype()); })
      // in place
      .def("zero_", [](Tensor& t) { return t.zero_(); })
      .def("fill_", [](Tensor& t, double v) { return t.fill_(v); })
      .def("copy_", [](Tensor& t, const py::object& src) {
        Tensor s = as_tensor(src);
        return t.copy_(s.dtype() == t.dtype() ? s : s.to(t.dtype()));
      })
      .def("add_", [](Tensor& t, const py::object& o, double alpha) {
        return t.add_(py::isinstance<Tensor>(o) ? o.cast<Tensor>() : scalar_for(t, o), alpha);
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1.0)
      .def("sub_", [](Tensor& t, const py::object& o, double alpha) {
        return t.add_(py::isinstance<Tensor>(o) ? o.cast<Tensor>() : scalar_for(t, o), -alpha);
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1.0)
      .def("mul_", [](Tensor& t, const py::object& o) {
        return py::isinstance<Tensor>(o) ? t.mul_(o.cast<Tensor>()) : t.mul_(o.cast<double>());
      })
      .def("div_", [](Tensor& t, double s) { return t.mul_(1.0 / s); })
      .def("masked_fill_", [](Tensor& t, const Tensor& mask, double v) { return t.masked_fill_(mask, v); });

  def_binary(c, "__add__", "__radd__", [](const Tensor& a, const Tensor& b) { return add(a, b); });
  def_binary(c, "__sub__", "__rsub__", [](const Tensor& a, const Tensor& b) { return sub(a, b); });
  def_binary(c, "__mul__", "__rmul__", [](const Tensor& a, const Tensor& b) { return mul(a, b); });
  def_binary(c, "__truediv__", "__rtruediv__", [](const Tensor& a, const Tensor& b) { return true_div(a, b); });
  def_binary(c, "__matmul__", "__rmatmul__", [](const Tensor& a, const Tensor& b) { return matmul(a, b); });
  def_binary(c, "__eq__", nullptr, [](const Tensor& a, const Tensor& b) { return eq(a, b); });
  def_binary(c, "__ne__", nullptr, [](const Tensor& a, const Tensor& b) { return ne(a, b); });
  def_binary(c, "__lt__", nullptr, [](const Tensor& a, const Tensor& b) { return lt(a, b); });
  def_binary(c, "__le__", nullptr, [](const Tensor& a, const Tensor& b) { return le(a, b); });
  def_binary(c, "__gt__", nullptr, [](const Tensor& a, const Tensor& b) { return gt(a, b); });
  def_binary(c, "__ge__", nullptr, [](const Tensor& a, const Tensor& b) { return ge(a, b); });
  def_binary(c, "__and__", "__rand__", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); });
  def_binary(c, "__or__", "__ror__", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); });
  c.def("__pow__", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, py::is_operator());
  c.def("__pow__", [](const Tensor& a, double e) { return pow(a, e); }, py::is_operator());
  c.def("__rpow__", [](const Tensor& a, double s) { return pow(scalar_for(a, py::float_(s)), a); }, py::is_operator());
  c.def("__neg__", [](const Tensor& a) { return neg(a); });
  c.def("__pos__", [](const Tensor& a) { return a; });
  c.def("__abs__", [](const Tensor& a) { return abs(a); });
  c.def("__invert__", [](const Tensor& a) { return logical_not(a); });
  c.attr("__hash__") = py::module_::import("builtins").attr("object").attr("__hash__");

  m.def("from_numpy", &from_numpy, py::arg("ndarray"), "A tensor sharing the numpy array's memory (no copy).");
  m.def("_as_tensor", [](const py::object& o) { return as_tensor(o); });
}

}  // namespace nerve::python

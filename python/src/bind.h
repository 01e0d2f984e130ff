// The Python extension nerve._C: what the binding files share (conversions between Python objects and nerve's
// shapes, dtypes and tensors). Each bind_* function adds one part of the API to the module.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <nerve/nerve.h>

namespace nerve::python {
namespace py = pybind11;

/// A shape from an int or a sequence of ints (x.reshape(2, 3) arrives as args (2, 3), x.reshape((2, 3)) as ((2, 3),)).
Shape shape_from(const py::handle& o);
Shape shape_from_args(const py::args& args);
/// dim=None -> {} (all dims), an int -> {d}, a sequence -> its dims.
Shape dims_from(const py::object& o);
/// A numpy array viewed as a tensor without a copy; the array stays alive while any view of it does.
Tensor from_numpy(const py::array& a);
/// A numpy array viewing t's data (t's storage stays alive while the array does).
py::array to_numpy(const Tensor& t);
/// A tensor from a Tensor, a numpy array, or a Python number or nested list (copied; PyTorch's dtype rules).
Tensor as_tensor(const py::handle& o);

void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_nn(py::module_& m);
void bind_keras(py::module_& m);
/// After everything is bound: the number slots of Tensor's binary operators call the ops directly for two tensors.
void bind_fast_paths(py::module_& m);

}  // namespace nerve::python

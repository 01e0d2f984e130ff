// The Python extension module nerve._C: nerve::Error arrives in Python as nerve.Error (a RuntimeError) carrying
// nerve's message; the parts of the API are bound by the bind_* functions of the other files.
#include "bind.h"

PYBIND11_MODULE(_C, m) {
  using namespace nerve::python;
  m.doc() = "nerve's C++ core; import nerve for the PyTorch- and Keras-style API";
  static py::exception<nerve::Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nerve::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
  bind_tensor(m);
  bind_ops(m);
  bind_nn(m);
  bind_keras(m);
  bind_fast_paths(m);
}

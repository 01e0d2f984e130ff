// nerve._C.keras: the C++ Keras model and layers that nerve.keras wraps. fit/evaluate/predict run with the GIL
// released; a callback checks for Ctrl-C after every batch and calls the Python callbacks' hooks.
#include <sstream>

#include "bind.h"

namespace nerve::python {

namespace {

// Hooks fit into Python: checks for signals (Ctrl-C raises KeyboardInterrupt out of fit) and calls the methods a
// Python keras.callbacks.Callback defines. Holds the GIL only while it runs.
class PyCallback : public keras::Callback {
 public:
  explicit PyCallback(py::object target) : target_(std::move(target)) {}
  ~PyCallback() override {
    py::gil_scoped_acquire gil;
    target_ = py::object();
  }
  void on_train_begin() override { call("on_train_begin"); }
  void on_train_end() override { call("on_train_end"); }
  void on_epoch_begin(int epoch) override { call("on_epoch_begin", epoch); }
  void on_epoch_end(int epoch, const keras::Logs& logs) override { call("on_epoch_end", epoch, logs); }
  // PyErr_CheckSignals needs the GIL: taking it once per batch is cheap next to a batch's work
  void on_batch_end(int64_t batch, const keras::Logs& logs) override { call("on_batch_end", batch, logs); }

 private:
  template <class... A>
  void call(const char* name, const A&... args) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (target_.is_none() || !py::hasattr(target_, name)) return;
    py::object r = target_.attr(name)(args...);
    if (py::hasattr(target_, "stop_training") && py::bool_(target_.attr("stop_training")) && model)
      model->stop_training = true;
  }
  py::object target_;
};

std::optional<Shape> opt_shape(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  return shape_from(o);
}

std::string activation_name(const py::object& a) { return a.is_none() ? "" : a.cast<std::string>(); }

keras::OptimizerSpec optimizer_spec(const std::string& name, const py::dict& kw) {
  auto get = [&kw](const char* k, double def) { return kw.contains(k) ? kw[k].cast<double>() : def; };
  const double lr = get("learning_rate", -1);
  if (name == "adam") return keras::Adam(lr < 0 ? 1e-3 : lr, get("beta_1", 0.9), get("beta_2", 0.999), get("epsilon", 1e-7));
  if (name == "adamw")
    return keras::AdamW(lr < 0 ? 1e-3 : lr, get("weight_decay", 4e-3), get("beta_1", 0.9), get("beta_2", 0.999),
                        get("epsilon", 1e-7));
  if (name == "sgd") return keras::SGD(lr < 0 ? 0.01 : lr, get("momentum", 0.0), get("nesterov", 0.0) != 0.0);
  if (name == "rmsprop")
    return keras::RMSprop(lr < 0 ? 1e-3 : lr, get("rho", 0.9), get("momentum", 0.0), get("epsilon", 1e-7));
  if (name == "adagrad")
    return keras::Adagrad(lr < 0 ? 1e-3 : lr, get("initial_accumulator_value", 0.1), get("epsilon", 1e-7));
  throw Error(detail::str_cat("keras: unknown optimizer '", name, "' (adam, adamw, sgd, rmsprop, adagrad)"));
}

void bind_layers(py::module_& m) {
  using py::arg;
  py::class_<keras::Layer, nn::Module, std::shared_ptr<keras::Layer>>(m, "Layer")
      .def("keras_name", &keras::Layer::keras_name)
      .def_property_readonly("built", [](const keras::Layer& l) { return l.built; });
  m.def("Dense", [](int64_t units, const py::object& act, bool use_bias, const py::object& input_shape) {
    return keras::Dense(units, activation_name(act), {.use_bias = use_bias, .input_shape = opt_shape(input_shape)});
  }, arg("units"), arg("activation") = py::none(), arg("use_bias") = true, arg("input_shape") = py::none());
  m.def("Flatten", [](const py::object& input_shape) { return keras::Flatten(opt_shape(input_shape)); },
        arg("input_shape") = py::none());
  m.def("Dropout", &keras::Dropout, arg("rate"));
  m.def("Activation", &keras::Activation, arg("activation"));
  m.def("Rescaling", [](double scale, double offset, const py::object& input_shape) {
    return keras::Rescaling(scale, offset, opt_shape(input_shape));
  }, arg("scale"), arg("offset") = 0.0, arg("input_shape") = py::none());
  m.def("Conv2D", [](int64_t filters, const py::object& k, const py::object& strides, const std::string& padding,
                     const py::object& act, bool use_bias, const py::object& input_shape) {
    Shape ks = shape_from(k);
    if (ks.size() == 1) ks.push_back(ks[0]);
    return keras::Conv2D(filters, ks, activation_name(act),
                         {.strides = shape_from(strides), .padding = padding, .use_bias = use_bias,
                          .input_shape = opt_shape(input_shape)});
  }, arg("filters"), arg("kernel_size"), arg("strides") = 1, arg("padding") = "valid", arg("activation") = py::none(),
     arg("use_bias") = true, arg("input_shape") = py::none());
  auto pool = [](const py::object& p) {
    Shape s = shape_from(p);
    if (s.size() == 1) s.push_back(s[0]);
    return s;
  };
  m.def("MaxPooling2D", [pool](const py::object& p, const py::object& strides) {
    return keras::MaxPooling2D(pool(p), strides.is_none() ? std::nullopt : std::optional<Shape>(pool(strides)));
  }, arg("pool_size") = py::make_tuple(2, 2), arg("strides") = py::none());
  m.def("AveragePooling2D", [pool](const py::object& p, const py::object& strides) {
    return keras::AveragePooling2D(pool(p), strides.is_none() ? std::nullopt : std::optional<Shape>(pool(strides)));
  }, arg("pool_size") = py::make_tuple(2, 2), arg("strides") = py::none());
  m.def("GlobalAveragePooling2D", &keras::GlobalAveragePooling2D);
  m.def("BatchNormalization", [](double momentum, double epsilon, const py::object& input_shape) {
    return keras::BatchNormalization({.momentum = momentum, .epsilon = epsilon, .input_shape = opt_shape(input_shape)});
  }, arg("momentum") = 0.99, arg("epsilon") = 1e-3, arg("input_shape") = py::none());
  m.def("Reshape", [](const py::object& target, const py::object& input_shape) {
    return keras::Reshape(shape_from(target), opt_shape(input_shape));
  }, arg("target_shape"), arg("input_shape") = py::none());
}

void bind_model(py::module_& m) {
  using py::arg;
  py::class_<keras::Callback, std::shared_ptr<keras::Callback>>(m, "Callback");
  m.def("PyCallback", [](const py::object& target) -> std::shared_ptr<keras::Callback> {
    return std::make_shared<PyCallback>(target);
  });
  m.def("EarlyStopping", [](const std::string& monitor, double min_delta, int patience, const std::string& mode,
                            bool restore) {
    return keras::EarlyStopping({.monitor = monitor, .min_delta = min_delta, .patience = patience, .mode = mode,
                                 .restore_best_weights = restore});
  }, arg("monitor") = "val_loss", arg("min_delta") = 0.0, arg("patience") = 0, arg("mode") = "auto",
     arg("restore_best_weights") = false);
  m.def("CSVLogger", &keras::CSVLogger, arg("filename"));
  m.def("ModelCheckpoint", [](const std::string& path, const std::string& monitor, bool best, const std::string& mode) {
    return keras::ModelCheckpoint(path, {.monitor = monitor, .save_best_only = best, .mode = mode});
  }, arg("filepath"), arg("monitor") = "val_loss", arg("save_best_only") = false, arg("mode") = "auto");

  py::class_<keras::Sequential, nn::Module, std::shared_ptr<keras::Sequential>>(m, "Sequential")
      .def(py::init([](const std::vector<keras::LayerPtr>& layers, const std::string& name) {
        return std::make_shared<keras::Sequential>(layers, name);
      }), arg("layers"), arg("name") = "sequential")
      .def("add", &keras::Sequential::add, arg("layer"))
      .def_property_readonly("built", &keras::Sequential::built)
      .def("build", [](keras::Sequential& s, const py::object& shape) { s.build(shape_from(shape)); }, arg("input_shape"))
      .def("compile", [](keras::Sequential& s, const std::string& opt, const py::dict& opt_kw, const std::string& loss,
                         bool from_logits, const std::vector<std::string>& metrics) {
        s.compile(optimizer_spec(opt, opt_kw), keras::LossSpec(loss, from_logits), metrics);
      })
      .def("fit", [](keras::Sequential& s, const Tensor& x, const Tensor& y, int epochs, int64_t batch_size,
                     int verbose, double validation_split, const py::object& validation_data, bool shuffle,
                     const std::vector<keras::CallbackPtr>& callbacks, const py::object& target, int initial_epoch) {
        keras::FitOptions o{.epochs = epochs, .batch_size = batch_size, .verbose = verbose,
                            .validation_split = validation_split, .shuffle = shuffle, .callbacks = callbacks,
                            .initial_epoch = initial_epoch};
        if (!validation_data.is_none()) {
          py::tuple t = validation_data.cast<py::tuple>();
          o.validation_data = std::make_pair(t[0].cast<Tensor>(), t[1].cast<Tensor>());
        }
        o.callbacks.push_back(std::make_shared<PyCallback>(target));  // Ctrl-C and the Python callbacks
        keras::History h;
        {
          py::gil_scoped_release release;
          h = s.fit(x, y, o);
        }
        return py::make_tuple(h.history, h.epoch);
      })
      .def("evaluate", [](keras::Sequential& s, const Tensor& x, const Tensor& y, int64_t batch_size, int verbose) {
        keras::Evaluation e;
        {
          py::gil_scoped_release release;
          e = s.evaluate(x, y, batch_size, verbose);
        }
        return py::make_tuple(e.loss, e.metrics);
      })
      .def("predict", [](keras::Sequential& s, const Tensor& x, int64_t batch_size) {
        py::gil_scoped_release release;
        return s.predict(x, batch_size);
      })
      .def("summary_text", [](const keras::Sequential& s) {
        std::ostringstream os;
        s.summary(os);
        return os.str();
      })
      .def("metrics_names", &keras::Sequential::metrics)
      .def("layers", &keras::Sequential::layers)
      .def_property("learning_rate", [](keras::Sequential& s) { return s.optimizer().lr(); },
                    [](keras::Sequential& s, double lr) { s.optimizer().set_lr(lr); })
      .def_readwrite("stop_training", &keras::Sequential::stop_training)
      .def("save", &keras::Sequential::save, arg("path"))
      .def("describe_plan", [](const keras::Sequential& s, DType d, bool training) { return s.describe_plan(d, training); });
  m.def("load_model", &keras::load_model, arg("path"));
}

}  // namespace

void bind_keras(py::module_& m) {
  py::module_ k = m.def_submodule("keras", "the C++ Keras model nerve.keras wraps");
  bind_layers(k);
  bind_model(k);
}

}  // namespace nerve::python

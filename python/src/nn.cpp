// nerve._C.nn and nerve._C.optim: the C++ modules with parameters (Linear, Embedding, LSTM, GRU, RNN, Conv2d,
// BatchNorm, LayerNorm) that nerve.nn's Python classes wrap, and the optimizers and schedulers of nerve.optim.
#include "bind.h"

namespace nerve::python {

namespace {

py::tuple state_list(const nn::StateDict& sd) {
  py::list out;
  for (const auto& [k, v] : sd) out.append(py::make_tuple(k, v));
  return py::tuple(out);
}

template <class M>
using Holder = py::class_<M, nn::Module, std::shared_ptr<M>>;

void bind_modules(py::module_& m) {
  using py::arg;
  py::class_<nn::Module, std::shared_ptr<nn::Module>>(m, "Module")
      .def("forward", [](nn::Module& mod, const Tensor& x) { return mod.forward(x); })
      .def("__call__", [](nn::Module& mod, const Tensor& x) { return mod.forward(x); })
      .def("named_parameters", [](const nn::Module& mod, bool r) { return state_list(mod.named_parameters(r)); },
           arg("recurse") = true)
      .def("named_buffers", [](const nn::Module& mod, bool r) { return state_list(mod.named_buffers(r)); },
           arg("recurse") = true)
      .def("train", &nn::Module::train, arg("mode") = true)
      .def("eval", &nn::Module::eval)
      .def_property_readonly("training", &nn::Module::is_training)
      .def("extra_repr", &nn::Module::extra_repr)
      .def("type_name", &nn::Module::type_name)
      .def("__repr__", [](const nn::Module& mod) { return mod.repr(); });

  Holder<nn::Linear>(m, "Linear")
      .def(py::init([](int64_t in, int64_t out, bool bias, const py::object& dtype) {
        return std::make_shared<nn::Linear>(in, out, bias, dtype.is_none() ? DType::f32 : dtype.cast<DType>());
      }), arg("in_features"), arg("out_features"), arg("bias") = true, py::kw_only(), arg("dtype") = py::none());
  Holder<nn::Embedding>(m, "Embedding")
      .def(py::init([](int64_t n, int64_t d, std::optional<int64_t> padding_idx, std::optional<double> max_norm,
                       double norm_type) {
        return std::make_shared<nn::Embedding>(
            n, d, nn::EmbeddingOptions{.padding_idx = padding_idx, .max_norm = max_norm, .norm_type = norm_type});
      }), arg("num_embeddings"), arg("embedding_dim"), arg("padding_idx") = py::none(), arg("max_norm") = py::none(),
         arg("norm_type") = 2.0);
  auto rnn_options = [](int64_t in, int64_t hidden, int64_t layers, bool bias, bool batch_first, double dropout,
                        bool bidirectional, const std::string& nonlinearity) {
    NERVE_CHECK(nonlinearity == "tanh" || nonlinearity == "relu", "RNN: nonlinearity must be 'tanh' or 'relu', got '",
                nonlinearity, "'");
    return nn::RNNOptions{.input_size = in, .hidden_size = hidden, .num_layers = layers, .bias = bias,
                          .batch_first = batch_first, .dropout = dropout, .bidirectional = bidirectional,
                          .nonlinearity = nonlinearity == "relu" ? nn::Nonlinearity::relu : nn::Nonlinearity::tanh};
  };
  Holder<nn::LSTM>(m, "LSTM")
      .def(py::init([rnn_options](int64_t in, int64_t h, int64_t l, bool bias, bool bf, double dropout, bool bi) {
        return std::make_shared<nn::LSTM>(rnn_options(in, h, l, bias, bf, dropout, bi, "tanh"));
      }), arg("input_size"), arg("hidden_size"), arg("num_layers") = 1, arg("bias") = true, arg("batch_first") = false,
         arg("dropout") = 0.0, arg("bidirectional") = false)
      .def("forward", [](nn::LSTM& mod, const Tensor& x, const py::object& state) {
        std::optional<nn::LSTMState> s;
        if (!state.is_none()) {
          py::tuple t = state.cast<py::tuple>();
          s = nn::LSTMState{t[0].cast<Tensor>(), t[1].cast<Tensor>()};
        }
        auto [out, st] = mod.forward(x, s);
        return py::make_tuple(out, py::make_tuple(st.h, st.c));
      }, arg("input"), arg("hx") = py::none());
  auto state_forward = [](auto& mod, const Tensor& x, const py::object& h) {
    auto [out, hn] = mod.forward(x, h.is_none() ? Tensor() : h.cast<Tensor>());
    return py::make_tuple(out, hn);
  };
  Holder<nn::GRU>(m, "GRU")
      .def(py::init([rnn_options](int64_t in, int64_t h, int64_t l, bool bias, bool bf, double dropout, bool bi) {
        return std::make_shared<nn::GRU>(rnn_options(in, h, l, bias, bf, dropout, bi, "tanh"));
      }), arg("input_size"), arg("hidden_size"), arg("num_layers") = 1, arg("bias") = true, arg("batch_first") = false,
         arg("dropout") = 0.0, arg("bidirectional") = false)
      .def("forward", [state_forward](nn::GRU& mod, const Tensor& x, const py::object& h) { return state_forward(mod, x, h); },
           arg("input"), arg("hx") = py::none());
  Holder<nn::RNN>(m, "RNN")
      .def(py::init([rnn_options](int64_t in, int64_t h, int64_t l, const std::string& nl, bool bias, bool bf,
                                  double dropout, bool bi) {
        return std::make_shared<nn::RNN>(rnn_options(in, h, l, bias, bf, dropout, bi, nl));
      }), arg("input_size"), arg("hidden_size"), arg("num_layers") = 1, arg("nonlinearity") = "tanh",
         arg("bias") = true, arg("batch_first") = false, arg("dropout") = 0.0, arg("bidirectional") = false)
      .def("forward", [state_forward](nn::RNN& mod, const Tensor& x, const py::object& h) { return state_forward(mod, x, h); },
           arg("input"), arg("hx") = py::none());
  auto size2 = [](const py::object& o) {
    Shape s = shape_from(o);
    NERVE_CHECK(s.size() == 1 || s.size() == 2, "Conv2d: a size is one number or two, got ", s.size());
    return s.size() == 1 ? nn::Size2(s[0]) : nn::Size2(s[0], s[1]);
  };
  Holder<nn::Conv2d>(m, "Conv2d")
      .def(py::init([size2](int64_t in, int64_t out, const py::object& k, const py::object& stride,
                            const py::object& padding, const py::object& dilation, int64_t groups, bool bias) {
        ConvPadding p = py::isinstance<py::str>(padding) ? ConvPadding(padding.cast<std::string>())
                                                         : ConvPadding(shape_from(padding));
        return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in = in, .out = out, .kernel = size2(k),
                                                              .stride = size2(stride), .padding = p,
                                                              .dilation = size2(dilation), .groups = groups,
                                                              .bias = bias});
      }), arg("in_channels"), arg("out_channels"), arg("kernel_size"), arg("stride") = 1, arg("padding") = 0,
         arg("dilation") = 1, arg("groups") = 1, arg("bias") = true);
  auto bn_options = [](int64_t n, double eps, double momentum, bool affine, bool track) {
    return nn::BatchNormOptions{.num_features = n, .eps = eps, .momentum = momentum, .affine = affine,
                                .track_running_stats = track};
  };
  Holder<nn::BatchNorm1d>(m, "BatchNorm1d")
      .def(py::init([bn_options](int64_t n, double eps, double momentum, bool affine, bool track) {
        return std::make_shared<nn::BatchNorm1d>(bn_options(n, eps, momentum, affine, track));
      }), arg("num_features"), arg("eps") = 1e-5, arg("momentum") = 0.1, arg("affine") = true,
         arg("track_running_stats") = true);
  Holder<nn::BatchNorm2d>(m, "BatchNorm2d")
      .def(py::init([bn_options](int64_t n, double eps, double momentum, bool affine, bool track) {
        return std::make_shared<nn::BatchNorm2d>(bn_options(n, eps, momentum, affine, track));
      }), arg("num_features"), arg("eps") = 1e-5, arg("momentum") = 0.1, arg("affine") = true,
         arg("track_running_stats") = true);
  Holder<nn::LayerNorm>(m, "LayerNorm")
      .def(py::init([](const py::object& shape, double eps, bool affine) {
        return std::make_shared<nn::LayerNorm>(shape_from(shape), eps, affine);
      }), arg("normalized_shape"), arg("eps") = 1e-5, arg("elementwise_affine") = true);
}

// ---------------------------------------------------------------- optim
struct Group {
  std::vector<Tensor> params;
  optim::Options options;
};

// an optimizer by name over groups of (params, options); the first group's options override the defaults
std::shared_ptr<optim::Optimizer> make_optimizer(const std::string& name, const std::vector<Group>& groups,
                                                 const optim::Options& defaults) {
  NERVE_CHECK(!groups.empty(), name, ": optimizer got an empty parameter list");
  std::vector<optim::ParamGroup> g;
  for (const Group& x : groups) g.push_back({x.params, x.options});
  if (name == "SGD") return std::make_shared<optim::SGD>(g, optim::SGDOptions::from_map(defaults));
  if (name == "Adam") return std::make_shared<optim::Adam>(g, optim::AdamOptions::from_map(defaults));
  if (name == "AdamW") {
    optim::AdamOptions a = optim::AdamOptions::from_map(defaults);
    return std::make_shared<optim::AdamW>(
        g, optim::AdamWOptions{a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.amsgrad});
  }
  if (name == "RMSprop") return std::make_shared<optim::RMSprop>(g, optim::RMSpropOptions::from_map(defaults));
  if (name == "Adagrad") return std::make_shared<optim::Adagrad>(g, optim::AdagradOptions::from_map(defaults));
  throw Error(detail::str_cat("optim: unknown optimizer '", name, "' (SGD, Adam, AdamW, RMSprop, Adagrad)"));
}

void bind_optim(py::module_& m) {
  using py::arg;
  py::class_<optim::Optimizer, std::shared_ptr<optim::Optimizer>>(m, "Optimizer")
      .def("step", [](optim::Optimizer& o) {
        py::gil_scoped_release release;
        o.step();
      })
      .def("zero_grad", &optim::Optimizer::zero_grad, arg("set_to_none") = true)
      .def_property("lr", &optim::Optimizer::lr, &optim::Optimizer::set_lr)
      .def("type_name", &optim::Optimizer::type_name)
      .def("num_groups", [](const optim::Optimizer& o) { return o.param_groups().size(); })
      .def("group_options", [](const optim::Optimizer& o, size_t k) { return o.param_groups().at(k).options; })
      .def("set_group_option", [](optim::Optimizer& o, size_t k, const std::string& key, double v) {
        o.param_groups().at(k).options[key] = v;
      })
      .def("group_params", [](const optim::Optimizer& o, size_t k) { return o.param_groups().at(k).params; });
  m.def("make_optimizer", [](const std::string& name, const py::list& groups, const optim::Options& defaults) {
    std::vector<Group> g;
    for (py::handle h : groups) {
      py::tuple t = h.cast<py::tuple>();
      g.push_back({t[0].cast<std::vector<Tensor>>(), t[1].cast<optim::Options>()});
    }
    return make_optimizer(name, g, defaults);
  }, arg("name"), arg("groups"), arg("defaults"));

  py::class_<optim::LRScheduler, std::shared_ptr<optim::LRScheduler>>(m, "LRScheduler")
      .def("step", &optim::LRScheduler::step)
      .def("get_last_lr", &optim::LRScheduler::get_last_lr)
      .def_property_readonly("last_epoch", &optim::LRScheduler::last_epoch)
      .def_property_readonly("base_lrs", &optim::LRScheduler::base_lrs);
  using Opt = std::shared_ptr<optim::Optimizer>;
  py::class_<optim::StepLR, optim::LRScheduler, std::shared_ptr<optim::StepLR>>(m, "StepLR")
      .def(py::init([](const Opt& o, int64_t step, double gamma) { return std::make_shared<optim::StepLR>(*o, step, gamma); }),
           arg("optimizer"), arg("step_size"), arg("gamma") = 0.1, py::keep_alive<1, 2>());
  py::class_<optim::ExponentialLR, optim::LRScheduler, std::shared_ptr<optim::ExponentialLR>>(m, "ExponentialLR")
      .def(py::init([](const Opt& o, double gamma) { return std::make_shared<optim::ExponentialLR>(*o, gamma); }),
           arg("optimizer"), arg("gamma"), py::keep_alive<1, 2>());
  py::class_<optim::CosineAnnealingLR, optim::LRScheduler, std::shared_ptr<optim::CosineAnnealingLR>>(m, "CosineAnnealingLR")
      .def(py::init([](const Opt& o, int64_t t_max, double eta_min) {
        return std::make_shared<optim::CosineAnnealingLR>(*o, t_max, eta_min);
      }), arg("optimizer"), arg("T_max"), arg("eta_min") = 0.0, py::keep_alive<1, 2>());
  py::class_<optim::LinearLR, optim::LRScheduler, std::shared_ptr<optim::LinearLR>>(m, "LinearLR")
      .def(py::init([](const Opt& o, double start, double end, int64_t total) {
        return std::make_shared<optim::LinearLR>(*o, start, end, total);
      }), arg("optimizer"), arg("start_factor") = 1.0 / 3.0, arg("end_factor") = 1.0, arg("total_iters") = 5,
         py::keep_alive<1, 2>());
  py::class_<optim::ReduceLROnPlateau, std::shared_ptr<optim::ReduceLROnPlateau>>(m, "ReduceLROnPlateau")
      .def(py::init([](const Opt& o, const std::string& mode, double factor, int64_t patience, double threshold,
                       int64_t cooldown, double min_lr) {
        using O = optim::ReduceLROnPlateauOptions;
        NERVE_CHECK(mode == "min" || mode == "max", "ReduceLROnPlateau: mode must be 'min' or 'max', got '", mode, "'");
        return std::make_shared<optim::ReduceLROnPlateau>(
            *o, O{.mode = mode == "min" ? O::Mode::min : O::Mode::max, .factor = factor, .patience = patience,
                  .threshold = threshold, .cooldown = cooldown, .min_lr = min_lr});
      }), arg("optimizer"), arg("mode") = "min", arg("factor") = 0.1, arg("patience") = 10, arg("threshold") = 1e-4,
         arg("cooldown") = 0, arg("min_lr") = 0.0, py::keep_alive<1, 2>())
      .def("step", &optim::ReduceLROnPlateau::step, arg("metrics"))
      .def("get_last_lr", &optim::ReduceLROnPlateau::get_last_lr);
}

// torch.nn.init: in place, from the seeded generator; nonlinearity and mode by PyTorch's names
void bind_init(py::module_& m) {
  using py::arg;
  namespace I = nn::init;
  auto nonlin = [](const std::string& s) {
    const std::pair<const char*, I::Nonlinearity> names[] = {
        {"linear", I::Nonlinearity::linear}, {"conv2d", I::Nonlinearity::conv}, {"sigmoid", I::Nonlinearity::sigmoid},
        {"tanh", I::Nonlinearity::tanh},     {"relu", I::Nonlinearity::relu},   {"leaky_relu", I::Nonlinearity::leaky_relu},
        {"selu", I::Nonlinearity::selu}};
    for (const auto& [n, v] : names)
      if (s == n) return v;
    throw Error(detail::str_cat("nn.init: unknown nonlinearity '", s, "' (linear, conv2d, sigmoid, tanh, relu, ",
                                "leaky_relu, selu)"));
  };
  auto fan = [](const std::string& s) {
    NERVE_CHECK(s == "fan_in" || s == "fan_out", "nn.init: mode must be 'fan_in' or 'fan_out', got '", s, "'");
    return s == "fan_in" ? I::FanMode::fan_in : I::FanMode::fan_out;
  };
  m.def("calculate_gain", [nonlin](const std::string& n, const py::object& param) {
    return I::calculate_gain(nonlin(n), param.is_none() ? 0.01 : param.cast<double>());
  }, arg("nonlinearity"), arg("param") = py::none());
  m.def("uniform_", &I::uniform_, arg("tensor"), arg("a") = 0.0, arg("b") = 1.0);
  m.def("normal_", &I::normal_, arg("tensor"), arg("mean") = 0.0, arg("std") = 1.0);
  m.def("constant_", &I::constant_, arg("tensor"), arg("val"));
  m.def("zeros_", &I::zeros_, arg("tensor"));
  m.def("ones_", &I::ones_, arg("tensor"));
  m.def("xavier_uniform_", &I::xavier_uniform_, arg("tensor"), arg("gain") = 1.0);
  m.def("xavier_normal_", &I::xavier_normal_, arg("tensor"), arg("gain") = 1.0);
  m.def("kaiming_uniform_", [nonlin, fan](const Tensor& t, double a, const std::string& mode, const std::string& nl) {
    return I::kaiming_uniform_(t, a, fan(mode), nonlin(nl));
  }, arg("tensor"), arg("a") = 0.0, arg("mode") = "fan_in", arg("nonlinearity") = "leaky_relu");
  m.def("kaiming_normal_", [nonlin, fan](const Tensor& t, double a, const std::string& mode, const std::string& nl) {
    return I::kaiming_normal_(t, a, fan(mode), nonlin(nl));
  }, arg("tensor"), arg("a") = 0.0, arg("mode") = "fan_in", arg("nonlinearity") = "leaky_relu");
}

}  // namespace

void bind_nn(py::module_& m) {
  py::module_ nn = m.def_submodule("nn", "the C++ modules nerve.nn wraps");
  bind_modules(nn);
  py::module_ init = nn.def_submodule("init", "torch.nn.init's initializers");
  bind_init(init);
  // state dicts as files: safetensors (nerve.save / nerve.load) and PyTorch's torch.save zip files (nerve.load_torch)
  m.def("save_safetensors", [](const std::vector<std::pair<std::string, Tensor>>& sd, const std::string& path) {
    py::gil_scoped_release release;
    io::save_safetensors(sd, path);
  }, py::arg("state_dict"), py::arg("path"));
  m.def("load_safetensors", [](const std::string& path) { return io::load_safetensors(path); }, py::arg("path"));
  m.def("load_torch", [](const std::string& path) { return io::load_torch(path); }, py::arg("path"));
  py::module_ o = m.def_submodule("optim", "the C++ optimizers and schedulers nerve.optim wraps");
  bind_optim(o);
}

}  // namespace nerve::python

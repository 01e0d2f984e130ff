// keras::Sequential: building layers from shapes, compile (optimizer, loss, metrics by name), the fit loop,
// evaluate, predict and summary.
#include "nerve/keras/model.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <tuple>

#include "nerve/autograd/grad_mode.h"
#include "nerve/core/rng.h"
#include "nerve/data/dataloader.h"
#include "nerve/data/dataset.h"
#include "nerve/keras/progress.h"
#include "nerve/nn/loss.h"
#include "nerve/ops/ops.h"
#include "nerve/optim/adagrad.h"
#include "nerve/optim/adam.h"
#include "nerve/optim/rmsprop.h"
#include "nerve/optim/sgd.h"

namespace nerve::keras {

// ------------------------------------------------------------------ optimizers
OptimizerSpec Adam(double lr, double b1, double b2, double eps) {
  return OptimizerSpec("adam", [=](std::vector<Tensor> p) {
    return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps});
  });
}
OptimizerSpec AdamW(double lr, double wd, double b1, double b2, double eps) {
  return OptimizerSpec("adamw", [=](std::vector<Tensor> p) {
    return std::make_unique<optim::AdamW>(
        std::move(p), optim::AdamWOptions{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd});
  });
}
OptimizerSpec SGD(double lr, double momentum, bool nesterov) {
  return OptimizerSpec("sgd", [=](std::vector<Tensor> p) {
    return std::make_unique<optim::SGD>(std::move(p),
                                        optim::SGDOptions{.lr = lr, .momentum = momentum, .nesterov = nesterov});
  });
}
OptimizerSpec RMSprop(double lr, double rho, double momentum, double eps) {
  return OptimizerSpec("rmsprop", [=](std::vector<Tensor> p) {
    return std::make_unique<optim::RMSprop>(
        std::move(p), optim::RMSpropOptions{.lr = lr, .alpha = rho, .eps = eps, .momentum = momentum});
  });
}
OptimizerSpec Adagrad(double lr, double init_acc, double eps) {
  return OptimizerSpec("adagrad", [=](std::vector<Tensor> p) {
    return std::make_unique<optim::Adagrad>(
        std::move(p), optim::AdagradOptions{.lr = lr, .initial_accumulator_value = init_acc, .eps = eps});
  });
}

OptimizerSpec::OptimizerSpec(const std::string& n) : name(n) {
  if (n == "adam") make = Adam().make;
  else if (n == "adamw") make = AdamW().make;
  else if (n == "sgd") make = SGD().make;
  else if (n == "rmsprop") make = RMSprop().make;
  else if (n == "adagrad") make = Adagrad().make;
  else NERVE_CHECK(false, "compile: unknown optimizer '", n, "' (expected adam, adamw, sgd, rmsprop or adagrad)");
}
OptimizerSpec::OptimizerSpec(const char* n) : OptimizerSpec(std::string(n)) {}

double Evaluation::operator[](const std::string& name) const {
  if (name == "loss") return loss;
  auto it = metrics.find(name);
  NERVE_CHECK(it != metrics.end(), "evaluate: no metric named '", name, "'");
  return it->second;
}

// ------------------------------------------------------------------ building
Sequential::Sequential(std::vector<LayerPtr> layers, std::string name) : name_(std::move(name)) {
  for (auto& l : layers) add(std::move(l));
}

void Sequential::add(LayerPtr layer) {
  NERVE_CHECK(layer != nullptr, "Sequential.add: null layer");
  NERVE_CHECK(!built_ || layer->input_shape == std::nullopt, "Sequential.add: only the first layer takes input_shape");
  int count = 0;
  for (auto& l : layers_) count += l->keras_name() == layer->keras_name();
  std::string nm = layer->keras_name() + (count ? "_" + std::to_string(count) : "");
  register_module(nm, layer);
  layers_.push_back(layer);
  layer_names_.push_back(nm);
  replan();
  if (layers_.size() == 1 && layer->input_shape) build(*layer->input_shape);
  else if (built_) {
    output_shapes_.push_back(layer->build(output_shapes_.back()));
  }
}

void Sequential::build(const Shape& input_shape) {
  if (built_) return;
  NERVE_CHECK(!layers_.empty(), "Sequential: the model has no layers");
  Shape s = input_shape;
  for (auto& l : layers_) {
    s = l->build(s);
    output_shapes_.push_back(s);
  }
  built_ = true;
  input_shape_ = input_shape;
  if (compiled_ && !optimizer_) optimizer_ = optimizer_spec_.make(parameters());
}

void Sequential::compile(OptimizerSpec optimizer, LossSpec loss, std::vector<std::string> metrics) {
  static const char* known[] = {"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
                                "mse", "mean_squared_error", "mae", "mean_absolute_error"};
  bool ok = false;
  for (const char* k : known) ok = ok || loss.name == k;
  NERVE_CHECK(ok, "compile: unknown loss '", loss.name,
              "' (expected sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, mse or mae)");
  for (const auto& m : metrics) {
    bool good = m == "accuracy" || m == "acc" || m == "sparse_categorical_accuracy" || m == "categorical_accuracy" ||
                m == "binary_accuracy" || m == "mae" || m == "mse";
    NERVE_CHECK(good, "compile: unknown metric '", m, "' (expected accuracy, sparse_categorical_accuracy, ",
                "categorical_accuracy, binary_accuracy, mae or mse)");
  }
  optimizer_spec_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(metrics);
  compiled_ = true;
  replan();
  optimizer_.reset();
  if (built_) optimizer_ = optimizer_spec_.make(parameters());
}

void Sequential::set_fusion(bool on) {
  fusion_ = on;
  replan();
}

void Sequential::replan() {
  // Keras trains on the logits when a softmax (sigmoid) output meets a crossentropy loss: same math, no log(0)
  std::string last = final_activation(layers_);
  bool ce = loss_.name == "sparse_categorical_crossentropy" || loss_.name == "categorical_crossentropy";
  fused_ = fusion_ && compiled_ && !loss_.from_logits &&
           ((ce && last == "softmax") || (loss_.name == "binary_crossentropy" && last == "sigmoid"));
  for (bool u8 : {false, true})
    for (bool logits : {false, true})
      plans_[u8][logits] = make_plan(layers_, {.u8_input = u8, .logits = logits, .fuse = fusion_});
}

namespace {
// The loss fit runs after the plan, named by the op that reads the logits where the loss takes them.
std::string loss_step(const LossSpec& loss, bool logits) {
  if (!logits) return loss.name;
  if (loss.name == "sparse_categorical_crossentropy") return "cross_entropy";  // fused log-softmax + NLL
  if (loss.name == "categorical_crossentropy") return "categorical_crossentropy(log_softmax)";
  if (loss.name == "binary_crossentropy") return "binary_cross_entropy_with_logits";
  return loss.name;
}
}  // namespace

std::string Sequential::describe_plan(DType input, bool training) const {
  std::string s = describe(plans_[input == DType::u8][training && fused_], layer_names_);
  return training ? s + " -> " + loss_step(loss_, fused_ || loss_.from_logits) : s;
}

optim::Optimizer& Sequential::optimizer() {
  NERVE_CHECK(optimizer_ != nullptr, "Sequential: compile() and build the model before using its optimizer");
  return *optimizer_;
}

namespace {
// Keras casts inputs to the layers' float32. uint8 images stay (the plans read them as they are); any other dtype
// (numpy's x / 255.0 is float64) is converted here, batch by batch, so fit never copies the whole data set first
Tensor model_input(const Tensor& x) {
  return x.dtype() == DType::u8 || x.dtype() == DType::f32 ? x : x.to(DType::f32);
}
}  // namespace

Tensor Sequential::forward(const Tensor& x_in) {
  nerve::detail::check_arg(x_in, "Sequential", "x");
  const Tensor x = model_input(x_in);
  return run_plan(plan(x, false), layers_, x);
}

Tensor Sequential::forward_logits(const Tensor& x_in) {
  nerve::detail::check_arg(x_in, "Sequential", "x");
  const Tensor x = model_input(x_in);
  return run_plan(plan(x, true), layers_, x);
}

Tensor Sequential::forward_for_loss(const Tensor& x_in) {
  nerve::detail::check_arg(x_in, "Sequential", "x");
  const Tensor x = model_input(x_in);
  return run_plan(plan(x, fused_), layers_, x);
}

// ------------------------------------------------------------------ loss and metrics
Tensor Sequential::compute_loss(const Tensor& out, const Tensor& y) const {
  namespace F = nn::functional;
  bool logits = fused_ || loss_.from_logits;
  const std::string& n = loss_.name;
  if (n == "sparse_categorical_crossentropy") return F::sparse_categorical_crossentropy(out, y, logits);
  if (n == "categorical_crossentropy") return F::categorical_crossentropy(out, y.to(out.dtype()), logits);
  if (n == "binary_crossentropy") return F::binary_crossentropy(out, y.to(out.dtype()), logits);
  Tensor t = y.to(out.dtype());
  NERVE_CHECK(t.shape() == out.shape(), "loss ", n, ": target shape ", to_string(t.shape()),
              " does not match the model output shape ", to_string(out.shape()));
  if (n == "mse" || n == "mean_squared_error") return F::mean_squared_error(out, t);
  return mean(abs(out - t));
}

namespace {
// Rows whose largest output is the label (sparse categorical accuracy), in one pass for the common case.
double count_correct(const Tensor& out, const Tensor& y) {
  if (out.dim() != 2 || out.dtype() != DType::f32 || !out.is_contiguous() || y.dtype() != DType::i64 ||
      !y.is_contiguous() || y.numel() != out.size(0)) {
    Tensor pred = argmax(out, -1);
    return sum(eq(pred, y.reshape(pred.shape()))).item<double>();
  }
  const int64_t R = out.size(0), C = out.size(1);
  const float* o = out.data<float>();
  const int64_t* t = y.data<int64_t>();
  int64_t hits = 0;
  for (int64_t r = 0; r < R; ++r) {
    const float* row = o + r * C;
    int64_t best = 0;  // argmax's rule: the first maximum, NaN counts as the largest
    for (int64_t c = 1; c < C; ++c)
      if (row[best] == row[best] && (row[c] > row[best] || row[c] != row[c])) best = c;
    hits += best == t[r];
  }
  return static_cast<double>(hits);
}
}  // namespace

void Sequential::accumulate_metrics(const Tensor& out, const Tensor& y, std::map<std::string, double>& sums) const {
  NoGradGuard g;
  for (const auto& m : metrics_) {
    std::string kind = m;
    if (m == "accuracy" || m == "acc")
      kind = loss_.name == "sparse_categorical_crossentropy" ? "sparse_categorical_accuracy"
             : loss_.name == "categorical_crossentropy"      ? "categorical_accuracy"
             : loss_.name == "binary_crossentropy"           ? "binary_accuracy"
             : out.dim() > 1 && out.shape().back() > 1 && y.dim() == out.dim() - 1 ? "sparse_categorical_accuracy"
                                                                                     : "binary_accuracy";
    double v = 0;
    if (kind == "sparse_categorical_accuracy") {
      v = count_correct(out, y);
    } else if (kind == "categorical_accuracy") {
      v = sum(eq(argmax(out, -1), argmax(y, -1))).item<double>();
    } else if (kind == "binary_accuracy") {
      double thr = fused_ || loss_.from_logits ? 0.0 : 0.5;
      Tensor pred = gt(out, scalar_tensor(thr, out.dtype()));
      Tensor t = gt(y.to(out.dtype()), scalar_tensor(0.5, out.dtype()));
      v = mean(eq(pred, t.reshape(pred.shape())).to(DType::f64), {}).item<double>() * out.shape()[0];
    } else {  // mae / mse per sample, averaged over features
      Tensor d = out - y.to(out.dtype()).reshape(out.shape());
      Tensor e = m == "mae" ? abs(d) : d * d;
      v = mean(e.to(DType::f64)).item<double>() * out.shape()[0];
    }
    sums[m] += v;
  }
}

void Sequential::check_xy(const char* op, const Tensor& x, const Tensor& y) const {
  NERVE_CHECK(x.defined() && x.dim() >= 1, op, ": x must have a batch dim, got ",
              x.defined() ? to_string(x.shape()) : "an undefined tensor");
  NERVE_CHECK(y.defined() && y.dim() >= 1 && y.shape()[0] == x.shape()[0], op, ": x has ", x.shape()[0],
              " samples but y has ", y.defined() && y.dim() ? y.shape()[0] : 0, " (x ", to_string(x.shape()), " ",
              dtype_name(x.dtype()), ", y ", y.defined() ? to_string(y.shape()) : "undefined", ")");
  NERVE_CHECK(x.shape()[0] > 0, op, ": x has 0 samples (x ", to_string(x.shape()), "); expected at least one");
}

namespace {
Shape sample_shape(const Tensor& x) { return Shape(x.shape().begin() + 1, x.shape().end()); }
std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(None";
  for (int64_t d : s) os << ", " << d;
  os << ")";
  return os.str();
}
std::vector<std::pair<std::string, double>> ordered(const Logs& logs, const std::vector<std::string>& metrics,
                                                     const std::string& prefix) {
  std::vector<std::pair<std::string, double>> v;
  if (logs.count(prefix + "loss")) v.emplace_back(prefix + "loss", logs.at(prefix + "loss"));
  for (const auto& m : metrics)
    if (logs.count(prefix + m)) v.emplace_back(prefix + m, logs.at(prefix + m));
  return v;
}
}  // namespace

// ------------------------------------------------------------------ fit
History Sequential::fit(const Tensor& x, const Tensor& y, FitOptions o) {
  NERVE_CHECK(compiled_, "fit: call compile(optimizer, loss, metrics) before fit");
  check_xy("fit", x, y);
  NERVE_CHECK(o.batch_size > 0 && o.epochs >= 0, "fit: batch_size must be positive and epochs non-negative, got ",
              o.batch_size, " and ", o.epochs);
  NERVE_CHECK(o.validation_split >= 0 && o.validation_split < 1, "fit: validation_split must be in [0, 1), got ",
              o.validation_split);
  if (!built_) build(sample_shape(x));
  NERVE_CHECK(sample_shape(x) == input_shape_, "fit: the model expects inputs of shape ", shape_str(input_shape_),
              ", got x ", to_string(x.shape()));
  // Keras takes the validation split from the end of the data, before shuffling
  Tensor xt = x, yt = y;
  std::optional<std::pair<Tensor, Tensor>> val = o.validation_data;
  if (o.validation_split > 0) {
    int64_t n = x.shape()[0], nv = static_cast<int64_t>(std::floor(static_cast<double>(n) * o.validation_split));
    NERVE_CHECK(nv > 0 && nv < n, "fit: validation_split ", o.validation_split, " of ", n, " samples leaves ",
                n - nv, " for training and ", nv, " for validation");
    xt = narrow(x, 0, 0, n - nv);
    yt = narrow(y, 0, 0, n - nv);
    val = std::make_pair(narrow(x, 0, n - nv, nv), narrow(y, 0, n - nv, nv));
  }
  if (val) check_xy("fit (validation_data)", val->first, val->second);

  // In-memory tensors: a batch is a few row copies (microseconds), so no prefetch thread. A third thread on two
  // cores preempts the compute threads at their barriers (measured: up to 30x slower steps).
  // the shuffle seed is drawn here (as the DataLoader would) so that BackupAndRestore can save it and resume
  shuffle_seed = o.shuffle ? generator()() : 0;
  // a distribution strategy: every rank shuffles alike and takes its shard; rank 0 alone shows progress and runs
  // the callbacks that write files (Callback::rank0_only)
  keras::Strategy* strategy = o.strategy.get();
  const int rank = strategy ? strategy->rank() : 0, world = strategy ? strategy->world_size() : 1;
  if (strategy) shuffle_seed = strategy->broadcast(shuffle_seed);
  if (rank != 0) o.verbose = 0;
  std::erase_if(o.callbacks, [&](const CallbackPtr& cb) { return rank != 0 && cb->rank0_only(); });
  struct StrategyScope {  // begin/end around the training loop, end also when it throws
    keras::Strategy* s;
    nn::Module& m;
    ~StrategyScope() {
      if (s) s->end(m);
    }
  } scope{strategy, *this};
  if (strategy) strategy->begin(*this);
  History hist;
  stop_training = false;
  resume_from.reset();
  for (auto& cb : o.callbacks) {
    cb->model = this;
    cb->rank = rank;
  }
  for (auto& cb : o.callbacks) cb->on_train_begin();
  int first_epoch = o.initial_epoch;
  if (resume_from) std::tie(first_epoch, shuffle_seed) = *resume_from;
  data::DataLoaderOptions lo{.batch_size = o.batch_size, .shuffle = o.shuffle, .seed = shuffle_seed, .prefetch = false};
  if (world > 1)
    lo.sampler = std::make_shared<data::DistributedSampler>(rank, world, data::DistributedSamplerOptions{
                                                                             .shuffle = o.shuffle, .seed = shuffle_seed});
  data::DataLoader loader(data::TensorDataset(xt, yt), lo);
  loader.set_epoch(first_epoch - o.initial_epoch);  // the loader counts the epochs of this fit from 0
  for (int epoch = first_epoch; epoch < o.epochs && !stop_training; ++epoch) {
    if (o.verbose) std::printf("Epoch %d/%d\n", epoch + 1, o.epochs);
    for (auto& cb : o.callbacks) cb->on_epoch_begin(epoch);
    train();
    ProgressBar bar(loader.size(), o.verbose);
    double loss_sum = 0;
    int64_t seen = 0, step = 0;
    std::map<std::string, double> sums;
    Logs logs;
    for (auto& batch : loader) {
      Tensor out = forward_for_loss(batch.data);
      Tensor loss = compute_loss(out, batch.target);
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step();
      int64_t bs = batch.data.shape()[0];
      double lv = loss.item<double>();
      NERVE_CHECK(std::isfinite(lv), "fit: the loss became ", lv, " at epoch ", epoch + 1, ", batch ", step + 1,
                  " (try a lower learning rate, or check the inputs for NaN)");
      loss_sum += lv * static_cast<double>(bs);
      seen += bs;
      accumulate_metrics(out, batch.target, sums);
      ++step;
      logs["loss"] = loss_sum / static_cast<double>(seen);
      for (auto& [k, v] : sums) logs[k] = v / static_cast<double>(seen);
      for (auto& cb : o.callbacks) cb->on_batch_end(step - 1, logs);
      bar.update(step, ordered(logs, metrics_, ""));
    }
    if (world > 1) {  // the epoch's metrics over all ranks: sums of per-sample values and the sample count
      std::vector<double> v{loss_sum, static_cast<double>(seen)};
      for (auto& [k, x] : sums) v.push_back(x);
      strategy->sum(v);
      logs["loss"] = v[0] / v[1];
      size_t i = 2;
      for (auto& [k, x] : sums) logs[k] = v[i++] / v[1];
    }
    if (val) {
      Evaluation ev = run_eval(val->first, val->second, o.batch_size, 0, false, world > 1 ? strategy : nullptr);
      logs["val_loss"] = ev.loss;
      for (auto& [k, v] : ev.metrics) logs["val_" + k] = v;
    }
    auto shown = ordered(logs, metrics_, "");
    for (auto& kv : ordered(logs, metrics_, "val_")) shown.push_back(kv);
    bar.finish(shown);
    logs["lr"] = optimizer_->lr();
    for (auto& [k, v] : logs)
      if (k != "lr") hist.history[k].push_back(v);
    hist.epoch.push_back(epoch);
    for (auto& cb : o.callbacks) cb->on_epoch_end(epoch, logs);
  }
  for (auto& cb : o.callbacks) cb->on_train_end();
  eval();
  return hist;
}

// ------------------------------------------------------------------ evaluate / predict
Evaluation Sequential::run_eval(const Tensor& x, const Tensor& y, int64_t batch_size, int verbose, bool progress,
                                keras::Strategy* strategy) {
  NERVE_CHECK(compiled_, "evaluate: call compile(optimizer, loss, metrics) first");
  check_xy("evaluate", x, y);
  NERVE_CHECK(batch_size > 0, "evaluate: batch_size must be positive, got ", batch_size);
  if (!built_) build(sample_shape(x));
  NERVE_CHECK(sample_shape(x) == input_shape_, "evaluate: the model expects inputs of shape ",
              shape_str(input_shape_), ", got x ", to_string(x.shape()));
  bool was_training = is_training();
  eval();
  NoGradGuard g;
  // under a strategy with N ranks, rank r evaluates rows [n r / N, n (r + 1) / N): sums of per-sample values and
  // counts are added over the ranks at the end (not averages of averages: the shards differ in size by one)
  const int world = strategy ? strategy->world_size() : 1, rank = strategy ? strategy->rank() : 0;
  const int64_t total = x.shape()[0];
  const int64_t lo = total * rank / world, n = total * (rank + 1) / world - lo;
  const int64_t steps = (n + batch_size - 1) / batch_size;
  ProgressBar bar(steps, progress && rank == 0 ? verbose : 0);
  double loss_sum = 0;
  std::map<std::string, double> sums;
  for (const auto& m : metrics_) sums[m] = 0;  // every rank sums the same values, even one with no samples
  Logs logs;
  for (int64_t s = 0; s < steps; ++s) {
    int64_t b = s * batch_size, len = std::min(batch_size, n - b);
    Tensor xb = narrow(x, 0, lo + b, len), yb = narrow(y, 0, lo + b, len);
    Tensor out = forward_for_loss(xb);
    loss_sum += compute_loss(out, yb).item<double>() * static_cast<double>(len);
    accumulate_metrics(out, yb, sums);
    logs["loss"] = loss_sum / static_cast<double>(b + len);
    for (auto& [k, v] : sums) logs[k] = v / static_cast<double>(b + len);
    bar.update(s + 1, ordered(logs, metrics_, ""));
  }
  double count = static_cast<double>(n);
  if (world > 1) {
    std::vector<double> v{loss_sum, count, static_cast<double>(total)};
    for (auto& [k, x] : sums) v.push_back(x);
    strategy->sum(v);
    loss_sum = v[0];
    count = v[1];
    size_t i = 3;
    for (auto& [k, x] : sums) x = v[i++];
    // (the sizes summed too, so that every rank, not only those whose own size differs, sees a mismatch)
    NERVE_CHECK(count == static_cast<double>(total) && v[2] == static_cast<double>(total) * world, "evaluate: the ",
                world, " ranks passed ", v[2], " samples in all, not ", world, " x ", total, ", and evaluated ", count,
                " (every rank must pass the same x and y)");
    logs["loss"] = loss_sum / count;
    for (auto& [k, v] : sums) logs[k] = v / count;
  }
  bar.finish(ordered(logs, metrics_, ""));
  train(was_training);
  Evaluation ev;
  ev.loss = count > 0 ? loss_sum / count : 0.0;
  for (auto& [k, v] : sums) ev.metrics[k] = v / count;
  return ev;
}

Evaluation Sequential::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size, int verbose) {
  return run_eval(x, y, batch_size, verbose, true);
}

Evaluation Sequential::evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& o) {
  return run_eval(x, y, o.batch_size, o.verbose, true, o.strategy.get());
}

Tensor Sequential::predict(const Tensor& x, int64_t batch_size) {
  NERVE_CHECK(x.defined() && x.dim() >= 1, "predict: x must have a batch dim, got ",
              x.defined() ? to_string(x.shape()) : "an undefined tensor");
  NERVE_CHECK(x.shape()[0] > 0, "predict: x has 0 samples (x ", to_string(x.shape()), "); expected at least one");
  NERVE_CHECK(batch_size > 0, "predict: batch_size must be positive, got ", batch_size);
  if (!built_) build(sample_shape(x));
  NERVE_CHECK(sample_shape(x) == input_shape_, "predict: the model expects inputs of shape ",
              shape_str(input_shape_), ", got x ", to_string(x.shape()));
  bool was_training = is_training();
  eval();
  NoGradGuard g;
  std::vector<Tensor> outs;
  for (int64_t b = 0; b < x.shape()[0]; b += batch_size)
    outs.push_back(forward(narrow(x, 0, b, std::min(batch_size, x.shape()[0] - b))));
  train(was_training);
  return outs.size() == 1 ? outs[0] : cat(outs, 0);
}

// ------------------------------------------------------------------ summary
void Sequential::summary(std::ostream& os) const {
  auto line = [&](char c) { os << std::string(65, c) << "\n"; };
  auto thousands = [](int64_t v) {
    std::string s = std::to_string(v);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
    return s;
  };
  os << "Model: \"" << name_ << "\"\n";
  line('_');
  char buf[160];
  std::snprintf(buf, sizeof buf, " %-27s %-25s %-10s\n", "Layer (type)", "Output Shape", "Param #");
  os << buf;
  line('=');
  int64_t total = 0, trainable = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::string label = layer_names_[i] + " (" + layers_[i]->type_name() + ")";
    std::string shape = built_ ? shape_str(output_shapes_[i]) : "multiple";
    int64_t n = 0, t = 0;
    for (const Tensor& p : layers_[i]->parameters()) {
      n += p.numel();
      if (p.requires_grad()) t += p.numel();
    }
    for (auto& [bn, b] : layers_[i]->named_buffers()) n += b.numel();
    total += n;
    trainable += t;
    std::snprintf(buf, sizeof buf, " %-27s %-25s %-10lld\n", label.c_str(), shape.c_str(), static_cast<long long>(n));
    os << buf;
    if (i + 1 < layers_.size()) os << "\n";
  }
  line('=');
  os << "Total params: " << thousands(total) << "\n";
  os << "Trainable params: " << thousands(trainable) << "\n";
  os << "Non-trainable params: " << thousands(total - trainable) << "\n";
  line('_');
}

void Sequential::summary() const { summary(std::cout); }

}  // namespace nerve::keras

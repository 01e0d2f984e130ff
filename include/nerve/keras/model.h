// keras::Sequential: a stack of layers with compile / fit / evaluate / predict / summary, a thin layer over
// nn, optim and data. fit() is a plain loop a user could copy: batches from a DataLoader, forward, loss,
// backward, optimizer step, running metrics, callbacks.
#pragma once
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "nerve/keras/callbacks.h"
#include "nerve/keras/layers.h"
#include "nerve/keras/plan.h"
#include "nerve/keras/strategy.h"
#include "nerve/optim/optimizer.h"

namespace nerve::keras {

/// An optimizer by Keras name ("adam", "sgd", "rmsprop", "adamw", "adagrad") with Keras's defaults, or built
/// with the factories below.  compile("adam", ...) or compile(keras::Adam(1e-3), ...)
struct OptimizerSpec {
  OptimizerSpec(const char* name);
  OptimizerSpec(const std::string& name);
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  OptimizerSpec(std::string name, Make make) : name(std::move(name)), make(std::move(make)) {}
  std::string name;
  Make make;
};
/// Keras defaults: Adam lr 1e-3, epsilon 1e-7; SGD lr 0.01; RMSprop lr 1e-3, rho 0.9, epsilon 1e-7.
OptimizerSpec Adam(double learning_rate = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7);
OptimizerSpec AdamW(double learning_rate = 1e-3, double weight_decay = 4e-3, double beta_1 = 0.9,
                    double beta_2 = 0.999, double epsilon = 1e-7);
OptimizerSpec SGD(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
OptimizerSpec RMSprop(double learning_rate = 1e-3, double rho = 0.9, double momentum = 0.0, double epsilon = 1e-7);
OptimizerSpec Adagrad(double learning_rate = 1e-3, double initial_accumulator_value = 0.1, double epsilon = 1e-7);

/// A loss by Keras name: "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
/// "mse" / "mean_squared_error", "mae" / "mean_absolute_error"; from_logits as in Keras.
struct LossSpec {
  LossSpec(const char* name, bool from_logits = false) : name(name), from_logits(from_logits) {}
  LossSpec(std::string name, bool from_logits = false) : name(std::move(name)), from_logits(from_logits) {}
  std::string name;
  bool from_logits = false;
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  double validation_split = 0.0;  // the last fraction of x, y (taken before shuffling, as Keras does)
  std::optional<std::pair<Tensor, Tensor>> validation_data;
  bool shuffle = true;
  std::vector<CallbackPtr> callbacks;
  int initial_epoch = 0;
  /// Data-parallel training over processes (dist::DataParallel under mpirun); null: this process alone.
  StrategyPtr strategy;
};

/// Per-epoch values by name ("loss", "accuracy", "val_loss", ...).
struct History {
  std::map<std::string, std::vector<double>> history;
  std::vector<int> epoch;
};

/// evaluate's options. With a strategy under mpirun -np N (dist::DataParallel), rank r evaluates only rows
/// [n r / N, n (r + 1) / N) of the n samples, and the loss and metric sums and the sample counts are summed over
/// the ranks: every rank gets the result over all n samples, the one a single process computes (fit's
/// validation_data and validation_split are evaluated this way under its strategy). Every rank passes the same x, y.
///   auto r = model.evaluate(x, y, {.batch_size = 256, .strategy = std::make_shared<dist::DataParallel>()});
struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  StrategyPtr strategy;
};

/// The loss and each compiled metric.  auto r = model.evaluate(x, y); r.loss, r["accuracy"]
struct Evaluation {
  double loss = 0.0;
  std::map<std::string, double> metrics;
  double operator[](const std::string& name) const;
};

/// A linear stack of layers.
///   keras::Sequential model({keras::Flatten({28, 28}), keras::Dense(128, "relu"), keras::Dense(10, "softmax")});
///   model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
class Sequential : public nn::Module {
 public:
  explicit Sequential(std::vector<LayerPtr> layers = {}, std::string name = "sequential");
  void add(LayerPtr layer);
  /// Builds every layer for inputs of shape (batch, *input_shape); fit/evaluate/predict call it when needed.
  void build(const Shape& input_shape);
  bool built() const { return built_; }

  void compile(OptimizerSpec optimizer, LossSpec loss, std::vector<std::string> metrics = {});
  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  Evaluation evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 32, int verbose = 1);
  Evaluation evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& options);
  /// Model outputs (after the last activation) for x, in batches, without gradients.
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  /// The layer table with output shapes and parameter counts, as Keras prints it.
  void summary(std::ostream& os) const;
  void summary() const;

  Tensor forward(const Tensor& x) override;
  /// forward without the last layer's activation: the logits a fused softmax/sigmoid loss reads.
  Tensor forward_logits(const Tensor& x);
  /// The plan forward/predict (training = false) or fit/evaluate (true) run on inputs of dtype `input`, with the
  /// loss last when training: "linear_u8(rescaling, flatten, dense; relu) -> linear(dense_1) -> cross_entropy".
  std::string describe_plan(DType input, bool training = false) const;
  /// Testing switch: false runs every layer by its own forward and the loss on the final activation's output
  /// (the unfused model the fused plan is checked against). On by default.
  void set_fusion(bool on);
  std::string type_name() const override { return "Sequential"; }
  const std::vector<LayerPtr>& layers() const { return layers_; }
  optim::Optimizer& optimizer();
  /// Set by a callback (EarlyStopping) to end fit() after the current epoch.
  bool stop_training = false;
  /// The shuffle seed of the running fit (drawn from the global generator at its start).
  uint64_t shuffle_seed = 0;
  /// Set by a callback's on_train_begin (BackupAndRestore) to resume an interrupted fit: the epoch to start at
  /// and the shuffle seed that fit used.
  std::optional<std::pair<int, uint64_t>> resume_from;
  const std::string& name() const { return name_; }
  /// The input shape without the batch dim, once built.
  const Shape& input_shape() const { return input_shape_; }
  bool compiled() const { return compiled_; }
  const LossSpec& loss() const { return loss_; }
  const std::vector<std::string>& metrics() const { return metrics_; }
  /// The optimizer if the model is compiled and built, else null.
  const optim::Optimizer* optimizer_if_built() const { return optimizer_.get(); }
  /// Writes the model to one file (Keras's model.save): the architecture and compile settings as JSON, the
  /// weights and the optimizer's state as tensors (a safetensors file, written atomically). The model must be
  /// built. keras::load_model reads it back. Defined in the io layer (src/io/keras_file.cpp).
  ///   model.save("m.nerve");  auto again = keras::load_model("m.nerve");  again->predict(x);
  void save(const std::string& path) const;

 private:
  Tensor forward_for_loss(const Tensor& x);  // logits when the loss is fused with the final softmax/sigmoid
  void replan();  // remakes plans_ and fused_ from the layers, the loss and fusion_
  const Plan& plan(const Tensor& x, bool logits) const { return plans_[x.dtype() == DType::u8][logits]; }
  Tensor compute_loss(const Tensor& out, const Tensor& y) const;
  void accumulate_metrics(const Tensor& out, const Tensor& y, std::map<std::string, double>& sums) const;
  Evaluation run_eval(const Tensor& x, const Tensor& y, int64_t batch_size, int verbose, bool progress,
                      keras::Strategy* strategy = nullptr);
  void check_xy(const char* op, const Tensor& x, const Tensor& y) const;

  std::vector<LayerPtr> layers_;
  std::vector<std::string> layer_names_;
  std::vector<Shape> output_shapes_;
  Shape input_shape_;
  std::string name_;
  bool built_ = false;
  bool compiled_ = false;
  bool fused_ = false;  // the loss takes the logits of the final activation
  bool fusion_ = true;  // set_fusion
  Plan plans_[2][2];  // [input is uint8][without the last activation]: what forward runs, made once by replan()
  LossSpec loss_{"mse"};
  std::vector<std::string> metrics_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  OptimizerSpec optimizer_spec_{"adam"};
};

/// A model saved by Sequential::save: the same layers, weights, compile settings and optimizer state, so it
/// predicts the same bits and fit() continues where the saved model stood. Throws nerve::Error naming the file.
std::shared_ptr<Sequential> load_model(const std::string& path);

}  // namespace nerve::keras

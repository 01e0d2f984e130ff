// Keras callbacks: hooks into fit() at epoch and batch boundaries; EarlyStopping, ReduceLROnPlateau,
// CSVLogger and LambdaCallback.
#pragma once
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "nerve/nn/module.h"

namespace nerve::keras {

class Sequential;
/// Per-epoch values by name: "loss", "accuracy", "val_loss", "val_accuracy", "lr".
using Logs = std::map<std::string, double>;

/// Base class: override the hooks you need. `model` is set by fit().
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin() {}
  virtual void on_train_end() {}
  virtual void on_epoch_begin(int epoch) {}
  virtual void on_epoch_end(int epoch, const Logs& logs) {}
  virtual void on_batch_end(int64_t batch, const Logs& logs) {}
  Sequential* model = nullptr;
};
using CallbackPtr = std::shared_ptr<Callback>;

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";  // "min", "max", or "auto" (max for accuracy-like names)
  bool restore_best_weights = false;
};
/// Stops training when `monitor` has not improved for `patience` epochs.
///   keras::EarlyStopping({.monitor = "val_loss", .patience = 2})
CallbackPtr EarlyStopping(EarlyStoppingOptions options = {});

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
  std::string mode = "auto";
};
/// Multiplies the learning rate by `factor` when `monitor` stalls for `patience` epochs.
CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});

/// Writes one CSV row per epoch (epoch + every log value); the file is replaced atomically each epoch.
///   keras::CSVLogger("training.csv")
CallbackPtr CSVLogger(const std::string& path);

struct LambdaCallbackFns {
  std::function<void(int, const Logs&)> on_epoch_end;
  std::function<void(int64_t, const Logs&)> on_batch_end;
  std::function<void()> on_train_begin;
  std::function<void()> on_train_end;
};
/// Callback from lambdas.  keras::LambdaCallback({.on_epoch_end = [](int e, const keras::Logs& l) { ... }})
CallbackPtr LambdaCallback(LambdaCallbackFns fns);

}  // namespace nerve::keras

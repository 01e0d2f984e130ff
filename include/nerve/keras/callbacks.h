// Keras callbacks: hooks into fit() at epoch and batch boundaries; EarlyStopping, ReduceLROnPlateau,
// CSVLogger, ModelCheckpoint, BackupAndRestore and LambdaCallback.
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
  /// Under a distribution strategy, run only on rank 0 (callbacks that write files: CSVLogger, ModelCheckpoint).
  /// The others run on every rank, with the same (averaged) logs; BackupAndRestore restores on every rank and
  /// writes on rank 0.
  virtual bool rank0_only() const { return false; }
  Sequential* model = nullptr;
  int rank = 0;  // this process's rank under a distribution strategy (set by fit)
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

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  /// Save only when `monitor` improves on the best value so far (else after every epoch).
  bool save_best_only = false;
  std::string mode = "auto";  // "min", "max", or "auto" (max for accuracy-like names)
};
/// Saves the model (Sequential::save: architecture, weights, optimizer state) at the end of epochs; "{epoch}" in
/// the path becomes the epoch number (1-based, as Keras prints it). Each save is atomic.
///   keras::ModelCheckpoint("best.nerve", {.monitor = "val_accuracy", .save_best_only = true})
CallbackPtr ModelCheckpoint(const std::string& filepath, ModelCheckpointOptions options = {});

/// Resumes a fit that was killed: after each epoch it writes a backup (weights, optimizer state, the global
/// generator, the epoch and fit's shuffle seed) to `backup_dir`; a fit that starts while a backup is there
/// restores it and goes on with the next epoch, giving the same bits as a fit that was never interrupted. The
/// backup is deleted when fit ends normally. Keras's BackupAndRestore; defined with the file formats (io layer).
///   model.fit(x, y, {.epochs = 10, .callbacks = {keras::BackupAndRestore("/tmp/backup")}});
CallbackPtr BackupAndRestore(const std::string& backup_dir);

struct LambdaCallbackFns {
  std::function<void(int, const Logs&)> on_epoch_end;
  std::function<void(int64_t, const Logs&)> on_batch_end;
  std::function<void()> on_train_begin;
  std::function<void()> on_train_end;
};
/// Callback from lambdas.  keras::LambdaCallback({.on_epoch_end = [](int e, const keras::Logs& l) { ... }})
CallbackPtr LambdaCallback(LambdaCallbackFns fns);

}  // namespace nerve::keras

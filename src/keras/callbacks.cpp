// Keras callbacks: EarlyStopping, ReduceLROnPlateau, CSVLogger, LambdaCallback (ModelCheckpoint and BackupAndRestore,
// which write model files, are in src/io/keras_file.cpp, beside the formats they write).
#include "nerve/keras/callbacks.h"

#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

#include "core/file_util.h"
#include "nerve/core/files.h"

#include "keras/callback_util.h"
#include "nerve/keras/model.h"

namespace nerve::keras {

using callback_util::lookup;
using callback_util::maximize;

namespace {


class EarlyStoppingCb : public Callback {
 public:
  explicit EarlyStoppingCb(EarlyStoppingOptions o) : o_(std::move(o)), max_(maximize(o_.mode, o_.monitor)) {}
  void on_train_begin() override {
    wait_ = 0;
    best_ = max_ ? -INFINITY : INFINITY;
    best_weights_.clear();
  }
  void on_epoch_end(int epoch, const Logs& logs) override {
    double v = lookup(logs, o_.monitor, "EarlyStopping");
    bool better = max_ ? v - o_.min_delta > best_ : v + o_.min_delta < best_;
    if (better) {
      best_ = v;
      wait_ = 0;
      if (o_.restore_best_weights) {
        best_weights_.clear();
        for (auto& [n, t] : model->state_dict()) best_weights_.emplace_back(n, t.clone());
      }
      return;
    }
    // Keras's rule: stop once `patience` epochs in a row did not improve (patience 0 and 1 both stop at the first
    // such epoch), never after the first epoch
    if (++wait_ >= o_.patience && epoch > 0) model->stop_training = true;
  }
  void on_train_end() override {
    if (o_.restore_best_weights && model->stop_training && !best_weights_.empty()) model->load_state_dict(best_weights_);
  }

 private:
  EarlyStoppingOptions o_;
  bool max_;
  int wait_ = 0;
  double best_ = 0;
  nn::StateDict best_weights_;
};

class ReduceLROnPlateauCb : public Callback {
 public:
  explicit ReduceLROnPlateauCb(ReduceLROnPlateauOptions o) : o_(std::move(o)), max_(maximize(o_.mode, o_.monitor)) {
    NERVE_CHECK(o_.factor < 1.0 && o_.factor > 0, "ReduceLROnPlateau: factor must be in (0, 1), got ", o_.factor);
  }
  void on_train_begin() override {
    best_ = max_ ? -INFINITY : INFINITY;
    wait_ = cooldown_ = 0;
  }
  void on_epoch_end(int, const Logs& logs) override {
    double v = lookup(logs, o_.monitor, "ReduceLROnPlateau");
    if (cooldown_ > 0) --cooldown_;
    if (max_ ? v > best_ + o_.min_delta : v < best_ - o_.min_delta) {
      best_ = v;
      wait_ = 0;
    } else if (cooldown_ == 0 && ++wait_ >= o_.patience) {
      double lr = model->optimizer().lr();
      if (lr > o_.min_lr) {
        model->optimizer().set_lr(std::max(lr * o_.factor, o_.min_lr));
        cooldown_ = o_.cooldown;
        wait_ = 0;
      }
    }
  }

 private:
  ReduceLROnPlateauOptions o_;
  bool max_;
  double best_ = 0;
  int wait_ = 0, cooldown_ = 0;
};

class CSVLoggerCb : public Callback {
 public:
  // an unwritable path fails here, before any training, not after the first epoch
  explicit CSVLoggerCb(std::string path) : path_(std::move(path)) { check_writable(path_, "CSVLogger"); }
  bool rank0_only() const override { return true; }
  void on_train_begin() override { rows_.clear(); }
  void on_epoch_end(int epoch, const Logs& logs) override {
    if (header_.empty()) {
      header_ = "epoch";
      for (auto& [k, v] : logs) header_ += "," + k;
    }
    std::string row = std::to_string(epoch);
    char buf[64];
    for (auto& [k, v] : logs) {
      std::snprintf(buf, sizeof buf, ",%.17g", v);
      row += buf;
    }
    rows_.push_back(row);
    // rewrite the whole file atomically: a crash never leaves a half-written log
    std::string text = header_ + "\n";
    for (auto& r : rows_) text += r + "\n";
    detail::write_file_atomic(path_, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), "CSVLogger");
  }

 private:
  std::string path_, header_;
  std::vector<std::string> rows_;
};

class LambdaCb : public Callback {
 public:
  explicit LambdaCb(LambdaCallbackFns f) : f_(std::move(f)) {}
  void on_train_begin() override {
    if (f_.on_train_begin) f_.on_train_begin();
  }
  void on_train_end() override {
    if (f_.on_train_end) f_.on_train_end();
  }
  void on_epoch_end(int e, const Logs& l) override {
    if (f_.on_epoch_end) f_.on_epoch_end(e, l);
  }
  void on_batch_end(int64_t b, const Logs& l) override {
    if (f_.on_batch_end) f_.on_batch_end(b, l);
  }

 private:
  LambdaCallbackFns f_;
};

}  // namespace

CallbackPtr EarlyStopping(EarlyStoppingOptions o) { return std::make_shared<EarlyStoppingCb>(std::move(o)); }
CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions o) { return std::make_shared<ReduceLROnPlateauCb>(std::move(o)); }

CallbackPtr CSVLogger(const std::string& path) { return std::make_shared<CSVLoggerCb>(path); }
CallbackPtr LambdaCallback(LambdaCallbackFns fns) { return std::make_shared<LambdaCb>(std::move(fns)); }

}  // namespace nerve::keras

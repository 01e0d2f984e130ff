// Training checkpoints: a model, its optimizer and LR scheduler, a DataLoader's position, the global random generator
// and a step count in one safetensors file, written atomically, so a run stopped after a save resumes with the same bits.
#pragma once
#include <cstdint>
#include <string>

#include "nerve/data/dataloader.h"
#include "nerve/io/safetensors.h"
#include "nerve/nn/module.h"
#include "nerve/optim/lr_scheduler.h"
#include "nerve/optim/optimizer.h"

namespace nerve::io {

/// What a checkpoint holds. Null pointers are left out when saving, and skipped when loading (a file's optimizer
/// state is ignored when only the model is asked for; asking for a part the file lacks is an error).
/// load_checkpoint restores into the given objects (built as before: same parameters, same optimizer type and
/// groups, same scheduler type) and sets `step` and `extra`.
///   io::TrainingState st{.model = &net, .optimizer = &opt, .scheduler = &sched, .step = step};
///   io::save_checkpoint("ckpt.safetensors", st);   ...   io::load_checkpoint("ckpt.safetensors", st);
struct TrainingState {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::LRScheduler* scheduler = nullptr;
  /// The loader's position (epoch, batches handed out, shuffle seed): loading resumes it mid-epoch.
  data::DataLoader* loader = nullptr;
  /// The global generator (nerve::generator(): initialization, shuffling, dropout) is saved and restored.
  bool rng = true;
  int64_t step = 0;
  /// The user's own strings (epoch, run name, ...).
  Metadata extra;
};

/// Tensors "model.<name>", "optimizer.<index>.<buffer>" and "rng"; the optimizer's groups and hyper-parameters,
/// the scheduler and the step as JSON metadata.
void save_checkpoint(const std::string& path, const TrainingState& state);
/// Restores everything save_checkpoint wrote; throws nerve::Error naming the file when it does not fit.
void load_checkpoint(const std::string& path, TrainingState& state);

}  // namespace nerve::io

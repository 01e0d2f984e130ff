// save_checkpoint / load_checkpoint: everything a training run needs to continue, in one safetensors file. The
// tensors are the model's state dict, the optimizer's per-parameter buffers and the generator's state; the rest
// (optimizer groups, step counts, scheduler; optimizer_state.cpp) is JSON in the metadata, doubles written
// exactly (shortest round-trip form).
#include "nerve/io/checkpoint.h"

#include <cstring>
#include <sstream>

#include "io/optimizer_state.h"
#include "nerve/core/rng.h"

namespace nerve::io {

namespace {
constexpr const char* kFormat = "nerve-checkpoint-1";
}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& s) {
  nn::StateDict tensors;
  Metadata meta{{"format", kFormat}, {"step", std::to_string(s.step)}};
  if (s.model)
    for (const auto& [name, t] : s.model->state_dict()) tensors.emplace_back("model." + name, t);
  if (s.optimizer) meta["optimizer"] = detail::save_optimizer_state(*s.optimizer, "optimizer.", tensors);
  if (s.scheduler) meta["scheduler"] = detail::save_scheduler_state(*s.scheduler);
  if (s.loader) {  // "epoch batch seed", the seed "-" when the loader has none of its own
    const data::DataLoaderState ls = s.loader->state();
    meta["loader"] = std::to_string(ls.epoch) + " " + std::to_string(ls.batch) + " " +
                     (ls.seed ? std::to_string(*ls.seed) : std::string("-"));
  }
  if (s.rng) {
    std::vector<uint64_t> st = generator().get_state();
    Tensor t = empty({static_cast<int64_t>(st.size())}, DType::i64);
    std::memcpy(t.raw_data(), st.data(), st.size() * 8);
    tensors.emplace_back("rng", t);
  }
  for (const auto& [k, v] : s.extra) {
    NERVE_CHECK(!meta.count("user." + k), "save_checkpoint: extra key '", k, "' twice");
    meta["user." + k] = v;
  }
  save_safetensors(tensors, path, meta);
}

void load_checkpoint(const std::string& path, TrainingState& s) {
  SafetensorsFile f = read_safetensors(path);
  auto meta = [&](const std::string& k) -> const std::string* {
    auto it = f.metadata.find(k);
    return it == f.metadata.end() ? nullptr : &it->second;
  };
  NERVE_CHECK(meta("format") && *meta("format") == kFormat, "load_checkpoint: ", path,
              ": not a nerve checkpoint (metadata format is not '", kFormat, "')");
  NERVE_CHECK(meta("step"), "load_checkpoint: ", path, ": no step in the metadata");
  // parts the file has but the caller did not ask for are skipped (--load takes only the model)
  NERVE_CHECK(!s.optimizer || meta("optimizer"), "load_checkpoint: ", path, ": the file has no optimizer state");
  NERVE_CHECK(!s.scheduler || meta("scheduler"), "load_checkpoint: ", path, ": the file has no scheduler state");
  NERVE_CHECK(!s.loader || meta("loader"), "load_checkpoint: ", path, ": the file has no DataLoader position");
  try {
    if (s.model) {
      nn::StateDict model;
      for (const auto& [name, t] : f.tensors)
        if (name.rfind("model.", 0) == 0) model.emplace_back(name.substr(6), t);
      s.model->load_state_dict(model);
    }
    if (s.optimizer) detail::load_optimizer_state(path, *meta("optimizer"), "optimizer.", f.tensors, *s.optimizer);
    if (s.scheduler) detail::load_scheduler_state(path, *meta("scheduler"), *s.scheduler);
    if (s.rng) {
      const Tensor* rng = nullptr;
      for (const auto& [name, t] : f.tensors)
        if (name == "rng") rng = &t;
      NERVE_CHECK(rng && rng->dtype() == DType::i64 && rng->dim() == 1, "load_checkpoint: ", path,
                  ": no generator state (tensor 'rng', i64)");
      std::vector<uint64_t> st(static_cast<size_t>(rng->numel()));
      std::memcpy(st.data(), rng->raw_data(), st.size() * 8);
      generator().set_state(st);
    }
    if (s.loader) {
      std::istringstream in(*meta("loader"));
      std::string epoch, batch, seed, rest;
      in >> epoch >> batch >> seed;
      NERVE_CHECK(!seed.empty() && !(in >> rest), "load_checkpoint: ", path, ": bad DataLoader position '",
                  *meta("loader"), "' (expected 'epoch batch seed')");
      data::DataLoaderState ls{.epoch = std::stoll(epoch), .batch = std::stoll(batch)};
      if (seed != "-") ls.seed = std::stoull(seed);
      s.loader->load_state(ls);
    }
    s.step = std::stoll(*meta("step"));
  } catch (const std::logic_error& e) {  // std::stoll
    NERVE_CHECK(false, "load_checkpoint: ", path, ": bad number in the metadata (", e.what(), ")");
  }
  s.extra.clear();
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("user.", 0) == 0) s.extra[k.substr(5)] = v;
}

}  // namespace nerve::io

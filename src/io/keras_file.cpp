// keras::Sequential::save and keras::load_model: one safetensors file holding the architecture and compile
// settings (JSON under "config"), the weights ("model.<name>") and the optimizer's state ("optimizer.<i>.<buffer>"
// and JSON under "optimizer"). The config is checked against the file's real tensors before a layer is built, so
// a hostile config cannot make the reader allocate what it merely claims.
#include "io/keras_file.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "io/optimizer_state.h"
#include "keras/callback_util.h"
#include "nerve/io/checkpoint.h"
#include "nerve/io/safetensors.h"

namespace nerve {

namespace {
using Json = nlohmann::json;
constexpr const char* kFormat = "nerve-keras-1";
constexpr size_t kMaxLayers = 10000;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Json layer_config(const keras::Layer& l) {
  if (auto* d = dynamic_cast<const keras::DenseLayer*>(&l))
    return {{"class", "Dense"}, {"units", d->units()}, {"activation", d->activation()}, {"use_bias", d->use_bias()}};
  if (dynamic_cast<const keras::FlattenLayer*>(&l)) return {{"class", "Flatten"}};
  if (auto* d = dynamic_cast<const keras::DropoutLayer*>(&l)) return {{"class", "Dropout"}, {"rate", d->rate()}};
  if (auto* a = dynamic_cast<const keras::ActivationLayer*>(&l)) return {{"class", "Activation"}, {"activation", a->activation()}};
  if (auto* r = dynamic_cast<const keras::RescalingLayer*>(&l))
    return {{"class", "Rescaling"}, {"scale", r->scale()}, {"offset", r->offset()}};
  NERVE_CHECK(false, "save: layer ", l.type_name(), " cannot be saved yet");
  return {};
}

const Tensor* find(const nn::StateDict& sd, const std::string& name) {
  for (const auto& [n, t] : sd)
    if (n == name) return &t;
  return nullptr;
}
}  // namespace

void keras::Sequential::save(const std::string& path) const {
  NERVE_CHECK(built(), "save: ", path, ": build or fit the model before saving it (it has no weights yet)");
  Json layers = Json::array();
  for (const auto& l : this->layers()) layers.push_back(layer_config(*l));
  Json config{{"name", name()}, {"input_shape", input_shape()}, {"layers", layers}, {"compile", nullptr}};
  io::Metadata meta{{"format", kFormat}};
  nn::StateDict tensors;
  for (const auto& [n, t] : state_dict()) tensors.emplace_back("model." + n, t);
  if (compiled()) {
    const optim::Optimizer* opt = optimizer_if_built();
    config["compile"] = {{"optimizer", opt ? lower(opt->type_name()) : "adam"},
                         {"loss", {{"name", loss().name}, {"from_logits", loss().from_logits}}},
                         {"metrics", metrics()}};
    if (opt) meta["optimizer"] = io::detail::save_optimizer_state(*opt, "optimizer.", tensors);
  }
  meta["config"] = config.dump();
  io::save_safetensors(tensors, path, meta);
}

std::shared_ptr<keras::Sequential> io::detail::model_from_config(const std::string& text, const nn::StateDict& tensors,
                                                                 const std::string& file) {
  const std::string at = "load_model: " + file + ": ";
  try {
    Json c = Json::parse(text);
    const Json& layers = c.at("layers");
    NERVE_CHECK(layers.is_array() && !layers.empty() && layers.size() <= kMaxLayers, at, "\"layers\" must be a list of 1 to ",
                kMaxLayers, " layers");
    Shape in = c.at("input_shape").get<Shape>(), s = in;
    NERVE_CHECK(!in.empty() && in.size() <= 8, at, "\"input_shape\" must have 1 to 8 dims");
    auto model = std::make_shared<keras::Sequential>(std::vector<keras::LayerPtr>{}, c.at("name").get<std::string>());
    std::map<std::string, int> counts;
    // a shape pass first: every Dense's weight must be in the file with the shape the config implies
    for (const Json& l : layers) {
      for (int64_t d : s) NERVE_CHECK(d > 0 && d <= (int64_t{1} << 31), at, "dims must be in 1..2^31, got ", to_string(s));
      const std::string cls = l.at("class").get<std::string>();
      keras::LayerPtr layer;
      if (cls == "Dense") {
        const int64_t units = l.at("units").get<int64_t>();
        layer = keras::Dense(units, l.at("activation").get<std::string>(), {.use_bias = l.at("use_bias").get<bool>()});
        std::string name = "dense" + (counts["dense"] ? "_" + std::to_string(counts["dense"]) : "");
        const Tensor* w = find(tensors, "model." + name + ".weight");
        NERVE_CHECK(w && w->shape() == Shape({units, s.back()}), at, "layer ", name, " (Dense ", units,
                    ") needs tensor 'model.", name, ".weight' of shape ", to_string(Shape{units, s.back()}),
                    w ? ", the file has " + to_string(w->shape()) : std::string(", the file has none"));
        s.back() = units;
      } else if (cls == "Flatten") {
        layer = keras::Flatten();
        int64_t n = 1;
        for (int64_t d : s) NERVE_CHECK(!__builtin_mul_overflow(n, d, &n), at, "Flatten of ", to_string(s), " overflows");
        s = {n};
      } else if (cls == "Dropout") {
        const double rate = l.at("rate").get<double>();
        NERVE_CHECK(rate >= 0 && rate < 1, at, "Dropout rate ", rate, " is not in [0, 1)");
        layer = keras::Dropout(rate);
      } else if (cls == "Activation") {
        layer = keras::Activation(l.at("activation").get<std::string>());
      } else if (cls == "Rescaling") {
        layer = keras::Rescaling(l.at("scale").get<double>(), l.at("offset").get<double>());
      } else {
        NERVE_CHECK(false, at, "unknown layer class '", cls, "'");
      }
      counts[layer->keras_name()]++;
      model->add(layer);
    }
    model->build(in);
    nn::StateDict weights;
    for (const auto& [n, t] : tensors)
      if (n.rfind("model.", 0) == 0) weights.emplace_back(n.substr(6), t);
    model->load_state_dict(weights);
    const Json& comp = c.at("compile");
    if (!comp.is_null()) {
      model->compile(comp.at("optimizer").get<std::string>(),
                     keras::LossSpec(comp.at("loss").at("name").get<std::string>(),
                                     comp.at("loss").at("from_logits").get<bool>()),
                     comp.at("metrics").get<std::vector<std::string>>());
    }
    return model;
  } catch (const Json::exception& e) {
    NERVE_CHECK(false, at, "bad config (", e.what(), ")");
  }
  return nullptr;
}

std::shared_ptr<keras::Sequential> keras::load_model(const std::string& path) {
  io::SafetensorsFile f = io::read_safetensors(path);
  auto meta = [&](const char* k) -> const std::string* {
    auto it = f.metadata.find(k);
    return it == f.metadata.end() ? nullptr : &it->second;
  };
  NERVE_CHECK(meta("format") && *meta("format") == kFormat && meta("config"), "load_model: ", path,
              ": not a nerve Keras model file (metadata format is not '", kFormat, "')");
  auto model = io::detail::model_from_config(*meta("config"), f.tensors, path);
  if (const std::string* opt = meta("optimizer")) {
    NERVE_CHECK(model->compiled(), "load_model: ", path, ": optimizer state without compile settings");
    io::detail::load_optimizer_state(path, *opt, "optimizer.", f.tensors, model->optimizer());
  }
  return model;
}

namespace {
// Keras's ModelCheckpoint: the model file after every epoch, or only when the monitored value improved.
class ModelCheckpointCb : public keras::Callback {
 public:
  ModelCheckpointCb(std::string path, keras::ModelCheckpointOptions o)
      : path_(std::move(path)), o_(std::move(o)), max_(keras::callback_util::maximize(o_.mode, o_.monitor)) {}
  void on_train_begin() override { best_ = max_ ? -INFINITY : INFINITY; }
  bool rank0_only() const override { return true; }
  void on_epoch_end(int epoch, const keras::Logs& logs) override {
    if (o_.save_best_only) {
      const double v = keras::callback_util::lookup(logs, o_.monitor, "ModelCheckpoint");
      if (!(max_ ? v > best_ : v < best_)) return;
      best_ = v;
    }
    std::string p = path_;
    for (size_t at; (at = p.find("{epoch}")) != std::string::npos;) p.replace(at, 7, std::to_string(epoch + 1));
    model->save(p);
  }

 private:
  std::string path_;
  keras::ModelCheckpointOptions o_;
  bool max_;
  double best_ = 0;
};

// Keras's BackupAndRestore: a training checkpoint after every epoch, restored by the next fit that starts.
class BackupAndRestoreCb : public keras::Callback {
 public:
  explicit BackupAndRestoreCb(std::string dir) : dir_(std::move(dir)) {}
  // under a distribution strategy every rank restores (the same weights, optimizer state and generator) and rank 0
  // alone writes
  void on_train_begin() override {
    if (!std::filesystem::exists(file())) return;
    io::TrainingState st = state();
    io::load_checkpoint(file(), st);
    auto seed = st.extra.find("shuffle_seed");
    NERVE_CHECK(seed != st.extra.end(), "BackupAndRestore: ", file(), ": no shuffle seed in the backup");
    uint64_t shuffle_seed = 0;
    try {
      shuffle_seed = std::stoull(seed->second);
    } catch (const std::logic_error&) {
      NERVE_CHECK(false, "BackupAndRestore: ", file(), ": bad shuffle seed '", seed->second, "' in the backup");
    }
    NERVE_CHECK(st.step >= 0 && st.step <= INT32_MAX, "BackupAndRestore: ", file(), ": bad epoch ", st.step);
    model->resume_from = std::make_pair(static_cast<int>(st.step), shuffle_seed);
  }
  void on_epoch_end(int epoch, const keras::Logs&) override {
    if (rank != 0) return;
    std::filesystem::create_directories(dir_);
    io::TrainingState st = state();
    st.step = epoch + 1;  // the epoch to resume at
    st.extra = {{"shuffle_seed", std::to_string(model->shuffle_seed)}};
    io::save_checkpoint(file(), st);
  }
  void on_train_end() override {  // finished (or stopped by a callback): nothing to resume
    if (rank != 0) return;
    std::error_code ec;
    std::filesystem::remove(file(), ec);
  }

 private:
  std::string file() const { return dir_ + "/backup.safetensors"; }
  io::TrainingState state() const { return {.model = model, .optimizer = &model->optimizer()}; }
  std::string dir_;
};
}  // namespace

keras::CallbackPtr keras::ModelCheckpoint(const std::string& filepath, keras::ModelCheckpointOptions options) {
  return std::make_shared<ModelCheckpointCb>(filepath, std::move(options));
}

keras::CallbackPtr keras::BackupAndRestore(const std::string& backup_dir) {
  return std::make_shared<BackupAndRestoreCb>(backup_dir);
}

}  // namespace nerve

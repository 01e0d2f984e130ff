// keras::Sequential::save and keras::load_model: one safetensors file holding the architecture and compile
// settings (JSON under "config"), the weights ("model.<name>") and the optimizer's state ("optimizer.<i>.<buffer>"
// and JSON under "optimizer"). The config is checked against the file's real tensors before a layer is built, so
// a hostile config cannot make the reader allocate what it merely claims.
#include "io/keras_file.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "io/optimizer_state.h"
#include "keras/callback_util.h"
#include "nerve/io/checkpoint.h"
#include "nerve/io/safetensors.h"
#include "nerve/core/device.h"

namespace nerve {

namespace {
using Json = nlohmann::ordered_json;  // (one instantiation of nlohmann::basic_json in the library: safetensors.cpp uses this one)
constexpr const char* kFormat = "nerve-keras-1";
constexpr size_t kMaxLayers = 10000;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A layer as {"class": type_name, attribute: value, ...}: an attribute of one number is a JSON number, of one text
// a string, of several numbers (a shape) a list.
Json layer_config(const keras::Layer& l) {
  Json j{{"class", l.type_name()}};
  const Attrs config = l.config();
  for (const auto& [key, tokens] : config.items()) {
    auto number = [](const std::string& t) -> std::optional<Json> {
      char* end = nullptr;
      if (t.empty()) return std::nullopt;
      const long long i = std::strtoll(t.c_str(), &end, 10);
      if (*end == '\0') return Json(static_cast<int64_t>(i));
      const double d = std::strtod(t.c_str(), &end);
      if (*end == '\0') return Json(d);
      return std::nullopt;
    };
    if (tokens.size() == 1) {
      std::optional<Json> n = number(tokens[0]);
      j[key] = n ? *n : Json(tokens[0]);
    } else {
      Json list = Json::array();
      for (const std::string& t : tokens) {
        std::optional<Json> n = number(t);
        NERVE_CHECK(n.has_value(), "save: layer ", l.type_name(), ": attribute '", key, "' is a list of non-numbers");
        list.push_back(*n);
      }
      j[key] = list;
    }
  }
  return j;
}

// The attributes of a layer entry back into Attrs; numbers (and bools, as 0/1) keep their text.
Attrs layer_attrs(const Json& l, const std::string& at) {
  Attrs a;
  auto token = [&](const std::string& key, const Json& v) -> std::string {
    if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (v.is_number()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
      return buf;
    }
    NERVE_CHECK(v.is_string(), at, "layer attribute '", key, "' must be a number, a bool or a string, got ", v.dump());
    return v.get<std::string>();
  };
  NERVE_CHECK(l.is_object(), at, "a layer must be an object, got ", l.dump());
  for (const auto& [key, v] : l.items()) {
    if (key == "class") continue;
    std::vector<std::string> tokens;
    if (v.is_array()) {
      NERVE_CHECK(v.size() <= 8, at, "layer attribute '", key, "' has ", v.size(), " values, at most 8 expected");
      for (const Json& e : v) tokens.push_back(token(key, e));
    } else {
      tokens.push_back(token(key, v));
    }
    a.set(key, std::move(tokens));
  }
  return a;
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
    // each dim checked before it is converted (a JSON float such as 7.7e19 made int64_t would be undefined)
    const Json& dims = c.at("input_shape");
    NERVE_CHECK(dims.is_array() && !dims.empty() && dims.size() <= 8, at, "\"input_shape\" must have 1 to 8 dims, got ",
                dims.dump());
    Shape in;
    for (const Json& d : dims) {
      const bool ok = d.is_number_integer() && (d.is_number_unsigned() ? d.get<uint64_t>() <= (uint64_t{1} << 31)
                                                                         : d.get<int64_t>() <= (int64_t{1} << 31));
      in.push_back(ok ? d.get<int64_t>() : 0);  // (0 fails the check below, which names the whole shape)
    }
    NERVE_CHECK(std::all_of(in.begin(), in.end(), [](int64_t d) { return d > 0; }), at,
                "\"input_shape\" dims must be integers in 1..2^31, got ", dims.dump());
    auto make_model = [&] {
      auto m = std::make_shared<keras::Sequential>(std::vector<keras::LayerPtr>{}, c.at("name").get<std::string>());
      for (const Json& l : layers) m->add(keras::layer_from_config(l.at("class").get<std::string>(), layer_attrs(l, at)));
      return m;
    };
    // a shape pass first, on the meta device (no memory): every weight the config implies must be in the file with
    // that shape, so a hostile config cannot make the reader allocate what it merely claims
    nn::StateDict weights;
    for (const auto& [n, t] : tensors)
      if (n.rfind("model.", 0) == 0) weights.emplace_back(n.substr(6), t);
    {
      DeviceGuard meta(Device::meta);
      auto shapes = make_model();
      shapes->build(in);
      for (const auto& [name, t] : shapes->state_dict()) {
        const Tensor* w = find(weights, name);
        NERVE_CHECK(w && w->shape() == t.shape(), at, "the config needs tensor 'model.", name, "' of shape ",
                    to_string(t.shape()), w ? ", the file has " + to_string(w->shape()) : std::string(", the file has none"));
      }
    }
    auto model = make_model();
    model->build(in);
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
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(at, 0) == 0) throw;
    throw Error(at + what);
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

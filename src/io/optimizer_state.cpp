// save_optimizer_state / load_optimizer_state (see optimizer_state.h). Doubles go through JSON exactly (the
// shortest form that reads back to the same bits).
#include "io/optimizer_state.h"

#include <nlohmann/json.hpp>

namespace nerve::io::detail {

using Json = nlohmann::ordered_json;  // (one instantiation of nlohmann::basic_json in the library: safetensors.cpp uses this one)

namespace {
// An integer of the metadata, checked: converting a JSON float such as 1e30 to int64_t would be undefined behaviour.
int64_t json_int(const Json& v, const std::string& file, const char* what) {
  NERVE_CHECK(v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= uint64_t{INT64_MAX}),
              "load: ", file, ": ", what, " must be an integer, got ", v.dump());
  return v.get<int64_t>();
}
}  // namespace

std::string save_optimizer_state(const optim::Optimizer& opt, const std::string& prefix, nn::StateDict& tensors) {
  optim::OptimizerStateDict sd = opt.state_dict();
  Json groups = Json::array(), steps = Json::object();
  for (const auto& g : sd.param_groups) groups.push_back({{"options", g.options}, {"params", g.params}});
  for (const auto& [index, st] : sd.state) {
    steps[std::to_string(index)] = st.step;
    for (const auto& [name, t] : st.buffers) tensors.emplace_back(prefix + std::to_string(index) + "." + name, t);
  }
  return Json{{"type", opt.type_name()}, {"param_groups", groups}, {"steps", steps}}.dump();
}

void load_optimizer_state(const std::string& file, const std::string& json, const std::string& prefix,
                          const nn::StateDict& tensors, optim::Optimizer& opt) {
  try {
    Json j = Json::parse(json);
    const std::string type = j.at("type").get<std::string>();
    NERVE_CHECK(type == opt.type_name(), "load: ", file, ": the optimizer is ", type, ", the one to restore is ",
                opt.type_name());
    optim::OptimizerStateDict sd;
    for (const auto& g : j.at("param_groups")) {
      std::vector<int64_t> params;
      for (const Json& p : g.at("params")) params.push_back(json_int(p, file, "a parameter index"));
      sd.param_groups.push_back({g.at("options").get<optim::Options>(), std::move(params)});
    }
    for (const auto& [index, step] : j.at("steps").items())
      sd.state[std::stoll(index)].step = json_int(step, file, "a step count");
    for (const auto& [name, t] : tensors) {
      if (name.rfind(prefix, 0) != 0) continue;
      const size_t dot = name.find('.', prefix.size());
      NERVE_CHECK(dot != std::string::npos, "load: ", file, ": bad optimizer tensor name '", name, "'");
      const int64_t index = std::stoll(name.substr(prefix.size(), dot - prefix.size()));
      NERVE_CHECK(sd.state.count(index), "load: ", file, ": tensor '", name, "' of a parameter without state");
      sd.state[index].buffers[name.substr(dot + 1)] = t;
    }
    opt.load_state_dict(sd);
  } catch (const Json::exception& e) {
    NERVE_CHECK(false, "load: ", file, ": bad optimizer metadata (", e.what(), ")");
  } catch (const std::logic_error& e) {  // std::stoll
    NERVE_CHECK(false, "load: ", file, ": bad parameter index in the optimizer state (", e.what(), ")");
  }
}

std::string save_scheduler_state(const optim::LRScheduler& sched) {
  optim::LRSchedulerState st = sched.state_dict();
  return Json{{"last_epoch", st.last_epoch}, {"step_count", st.step_count}, {"base_lrs", st.base_lrs},
              {"last_lr", st.last_lr}}
      .dump();
}

void load_scheduler_state(const std::string& file, const std::string& json, optim::LRScheduler& sched) {
  try {
    Json j = Json::parse(json);
    sched.load_state_dict({json_int(j.at("last_epoch"), file, "last_epoch"), json_int(j.at("step_count"), file, "step_count"),
                           j.at("base_lrs").get<std::vector<double>>(), j.at("last_lr").get<std::vector<double>>()});
  } catch (const Json::exception& e) {
    NERVE_CHECK(false, "load: ", file, ": bad scheduler metadata (", e.what(), ")");
  }
}

}  // namespace nerve::io::detail

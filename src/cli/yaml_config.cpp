#include "cli/yaml_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace serval::cli {

std::string YamlConfig::to_config(const CLI::App* app, bool default_also, bool, std::string) const {
  std::ostringstream out;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_lnames().empty() || opt->get_configurable() == false) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help" || name == "config") continue;
    std::vector<std::string> values = opt->reduced_results();
    if (values.empty() && default_also && !opt->get_default_str().empty()) values = {opt->get_default_str()};
    if (values.empty()) continue;
    out << name << ": " << (values.size() == 1 ? values.front() : "[" + CLI::detail::join(values, ", ") + "]")
        << "\n";
  }
  return out.str();
}

std::vector<CLI::ConfigItem> YamlConfig::from_config(std::istream& input) const {
  YAML::Node root;
  try {
    root = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    throw CLI::ConversionError("--config: invalid YAML: " + std::string(e.what()));
  }
  std::vector<CLI::ConfigItem> items;
  if (root.IsNull()) return items;
  if (!root.IsMap()) throw CLI::ConversionError("--config: the YAML file must be a mapping of flag names to values");
  for (const auto& kv : root) {
    std::string name = kv.first.as<std::string>();
    std::replace(name.begin(), name.end(), '_', '-');
    CLI::ConfigItem item;
    item.name = name;
    const YAML::Node& v = kv.second;
    if (v.IsScalar()) {
      item.inputs = {v.as<std::string>()};
    } else if (v.IsSequence()) {
      for (const auto& e : v) {
        if (!e.IsScalar()) throw CLI::ConversionError("--config: key '" + name + "' must hold scalars");
        item.inputs.push_back(e.as<std::string>());
      }
    } else if (v.IsNull()) {
      continue;
    } else {
      throw CLI::ConversionError("--config: key '" + name + "' must be a scalar or a list, not a mapping");
    }
    items.push_back(std::move(item));
  }
  return items;
}

void apply_yaml_config(CLI::App& cmd, const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "--config: cannot read " + path);
  std::vector<CLI::ConfigItem> items;
  try {
    items = YamlConfig().from_config(in);
  } catch (const CLI::Error& e) {
    throw Error(std::string(e.what()) + " (" + path + ")");
  }
  for (const CLI::ConfigItem& item : items) {
    CLI::Option* op = cmd.get_option_no_throw("--" + item.name);
    if (op == nullptr && item.name.size() == 1) op = cmd.get_option_no_throw("-" + item.name);
    check(op != nullptr && item.name != "config" && item.name != "help",
          "--config " + path + ": unknown key '" + item.name + "' (keys are the flags of `serval " + cmd.get_name() +
              "`, without the dashes)");
    if (op->count() > 0) continue;  // given on the command line: the flag wins
    try {
      if (op->get_expected_min() == 0) {
        const std::string value = item.inputs.empty() ? "true" : item.inputs.front();
        op->add_result(op->get_flag_value("--" + item.name, value));
      } else {
        op->add_result(item.inputs);
      }
      op->run_callback();
    } catch (const CLI::Error& e) {
      throw Error("--config " + path + ": bad value for '" + item.name + "': " + e.what());
    }
  }
}

}  // namespace serval::cli

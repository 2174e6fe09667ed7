#include "cli/yaml_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
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

}  // namespace serval::cli

// YamlConfig: lets `serval serve --config FILE.yaml` take the same keys as the flags (dashes or
// underscores), with flags on the command line overriding the file, as vLLM's --config does.
#pragma once

#include <CLI/CLI.hpp>

namespace serval::cli {

class YamlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  // Reads a flat YAML mapping: scalars, booleans and lists. Nested mappings are an error.
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace serval::cli

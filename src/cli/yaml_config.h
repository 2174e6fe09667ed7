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

// Applies the YAML file at `path` to cmd's options that the command line left unset (flags override the
// file), running each option's callback so bound variables take the value. Keys may use dashes or
// underscores; a key naming no option of cmd, or a value an option rejects, throws serval::Error naming
// the key and the file. NOTE: CLI11 2.x reads --config files only for the top-level app, not for a
// subcommand such as `serve`, hence this.
void apply_yaml_config(CLI::App& cmd, const std::string& path);

}  // namespace serval::cli

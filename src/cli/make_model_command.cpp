// `serval make-model`: writes a Hugging Face-format model directory with deterministic random weights
// at real model shapes — the built-in default for demos, tests and benchmarks.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "model/make_model.h"

namespace serval::cli {

void add_make_model_command(CLI::App& app) {
  auto opts = std::make_shared<MakeModelOptions>();
  std::string presets;
  for (const std::string& p : make_model_presets()) presets += (presets.empty() ? "" : ", ") + p;
  CLI::App* cmd = app.add_subcommand("make-model", "Write a model directory with deterministic random weights");
  cmd->add_option("--arch", opts->arch, "qwen2, llama, phi3, gemma2 or phi2")->capture_default_str();
  cmd->add_option("--preset", opts->preset, "Shape preset (arch/preset: " + presets + ")")->capture_default_str();
  cmd->add_option("--out", opts->out_dir, "Output directory")->required();
  cmd->add_option("--seed", opts->seed, "Seed for the weights")->capture_default_str();
  cmd->add_option("--dtype", opts->dtype, "bfloat16, float16 or float32")->capture_default_str();
  cmd->callback([opts] {
    make_model(*opts);
    std::fprintf(stderr, "wrote %s/%s model to %s\n", opts->arch.c_str(), opts->preset.c_str(),
                 opts->out_dir.c_str());
  });
}

}  // namespace serval::cli

// The `serval` subcommands. Each lives in src/cli/<name>_command.cpp and registers itself on the app
// (or on the `bench` subcommand); cli/main.cpp wires them up and turns serval::Error into exit code 1.
#pragma once

#include <CLI/CLI.hpp>

namespace serval::cli {

void add_generate_command(CLI::App& app);       // serval generate MODEL_DIR ...
void add_tokenize_command(CLI::App& app);       // serval tokenize MODEL_DIR ...
void add_chat_template_command(CLI::App& app);  // serval chat-template MODEL_DIR | --template FILE ...
void add_make_model_command(CLI::App& app);     // serval make-model --arch ... --preset ... --out DIR
void add_serve_command(CLI::App& app);          // serval serve MODEL_DIR --port 8000 ... (vLLM's flags)
void add_bench_model_command(CLI::App& bench);  // serval bench model MODEL_DIR -p 128 -n 32
void add_bench_serve_command(CLI::App& bench);  // serval bench serve --base-url ... (OpenAI-compatible servers)
void add_bench_sweep_command(CLI::App& bench);  // serval bench sweep --base-url ... --concurrency 1,4,8 --max-tokens 64,128
void add_bench_report_command(CLI::App& bench); // serval bench report SWEEP.json -o report.html
void add_bench_probe_command(CLI::App& bench);  // serval bench probe --base-url ... (cold vs warm TTFT)
void add_plan_command(CLI::App& app);           // serval plan MODEL_DIR | --config-json FILE --device-memory ...

}  // namespace serval::cli

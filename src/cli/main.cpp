// The `serval` binary: registers every subcommand and turns errors into one line + exit code 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"

int main(int argc, char** argv) {
  serval::init_logging();
  CLI::App app{"serval: an LLM inference server and capacity-measurement toolkit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SERVAL_VERSION);
  serval::cli::add_generate_command(app);
  serval::cli::add_tokenize_command(app);
  serval::cli::add_chat_template_command(app);
  serval::cli::add_make_model_command(app);
  serval::cli::add_serve_command(app);
  serval::cli::add_plan_command(app);
  CLI::App* bench = app.add_subcommand("bench", "Measure a model or a running server");
  bench->require_subcommand(1);
  serval::cli::add_bench_model_command(*bench);
  serval::cli::add_bench_serve_command(*bench);
  serval::cli::add_bench_sweep_command(*bench);
  serval::cli::add_bench_report_command(*bench);
  serval::cli::add_bench_probe_command(*bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const serval::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

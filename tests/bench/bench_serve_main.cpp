// Development stand-in for the `serval` binary: runs `bench serve` alone (serval_bench_serve_dev bench serve ...)
// until cli/main.cpp links the command.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"serval bench serve (development build)"};
  CLI::App* bench = app.add_subcommand("bench", "Measure a running server");
  bench->require_subcommand(1);
  serval::cli::add_bench_serve_command(*bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

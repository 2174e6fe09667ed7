// `serval bench report RESULTS.json -o FILE.html`: redraws the HTML report (and optionally the CSV) of a
// saved `bench sweep --output-json` run, offline.
#include <cstdio>
#include <memory>

#include "bench/sweep.h"
#include "bench/sweep_report.h"
#include "cli/commands.h"

namespace serval::cli {

void add_bench_report_command(CLI::App& bench) {
  struct Flags {
    std::string input, html, csv;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = bench.add_subcommand("report", "HTML report (and CSV) from a saved bench sweep JSON");
  cmd->add_option("results", f->input, "A bench sweep --output-json file")->required();
  cmd->add_option("-o,--output", f->html, "The HTML file to write")->required();
  cmd->add_option("--csv", f->csv, "Also write the CSV rows to this file");
  cmd->callback([f] {
    const nlohmann::ordered_json sweep = bench::load_sweep_json(f->input);
    bench::write_text_file(f->html, bench::render_html_report(sweep));
    std::fprintf(stderr, "wrote %s\n", f->html.c_str());
    std::fputs(bench::format_sweep_table(sweep).c_str(), stdout);
    if (!f->csv.empty()) {
      bench::write_text_file(f->csv, bench::sweep_csv(sweep));
      std::fprintf(stderr, "wrote %s\n", f->csv.c_str());
    }
  });
}

}  // namespace serval::cli

// The sweep's HTML report: self-contained (no scripts, no network), one SVG element per cell and per
// SLO, the sweet spot marked, text escaped; and rendered in headless Chromium, the charts' colours are
// on the screenshot. `bench report` / `bench sweep --html` through the command line.
#include "bench/sweep_report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifdef SERVAL_HAVE_PNG
#include <png.h>
#endif

#include "bench/scripted_server.h"
#include "bench/sweep.h"
#include "cli/commands.h"
#include "core/error.h"

namespace serval::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

json row(int concurrency, int max_tokens, double throughput, double p95_ttft, int errors, bool meets) {
  return {{"label", "box <1>"},
          {"concurrency", concurrency},
          {"request_rate", nullptr},
          {"max_tokens", max_tokens},
          {"errors", errors},
          {"p50_ttft_ms", p95_ttft / 2},
          {"p95_ttft_ms", p95_ttft},
          {"p50_e2el_ms", p95_ttft * 4},
          {"p95_e2el_ms", p95_ttft * 5},
          {"mean_tpot_ms", 20.0},
          {"p95_tpot_ms", 20.0 + concurrency},
          {"p50_itl_ms", 18.0 + concurrency},
          {"p95_itl_ms", 30.0 + 2 * concurrency},
          {"output_throughput", throughput},
          {"request_goodput", 1.0},
          {"meets_slo", meets}};
}

json sample_sweep() {
  json j;
  j["tool"] = "serval bench sweep";
  j["label"] = "box <1>";
  j["model_id"] = "qwen<script>alert(1)</script>";
  j["base_url"] = "http://127.0.0.1:8000";
  j["endpoint"] = "/v1/chat/completions";
  j["dataset"] = "chat";
  j["grid"] = "concurrency";
  j["slo_percentile"] = 95;
  j["goodput"] = {{"ttft_ms", 500.0}, {"tpot_ms", 40.0}, {"e2el_ms", nullptr}};
  j["rows"] = json::array({row(1, 64, 50, 90, 0, true), row(4, 64, 180, 200, 0, true), row(16, 64, 400, 700, 0, false),
                           row(1, 128, 52, 95, 0, true), row(4, 128, 190, 260, 0, true), row(16, 128, 420, 900, 3, false)});
  j["sweet_spot"] = 4;
  return j;
}

TEST(BenchReport, SelfContainedSvgWithOneMarkPerCell) {
  const std::string html = render_html_report(sample_sweep());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<svg"), 5u);                      // 3 frontier panels + TTFT bars + ITL bars
  EXPECT_EQ(count(html, "<circle class=\"point\""), 3u * 6);  // every cell on every frontier panel
  EXPECT_EQ(count(html, "<circle class=\"sweet-spot\""), 3u);
  EXPECT_EQ(count(html, "<line class=\"slo-line\""), 2u);      // ttft and tpot SLOs given, e2el not
  EXPECT_EQ(count(html, "<path class=\"frontier-line\""), 3u);
  EXPECT_EQ(count(html, "<rect class=\"bar-p50\""), 2u * 6);   // TTFT and ITL charts
  EXPECT_EQ(count(html, "<rect class=\"bar-p95\""), 2u * 6);
  EXPECT_EQ(count(html, "<tr class=\"sweet\">"), 1u);
  EXPECT_NE(html.find("Sweet spot: c=4 / 128"), std::string::npos);
  // Nothing to fetch and nothing to run: opens offline.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(count(html, "http://") , count(html, "http://www.w3.org/2000/svg") + 1);  // + the server's URL in the text
  EXPECT_NE(html.find("qwen&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("box &lt;1&gt;"), std::string::npos);
}

TEST(BenchReport, NoSweetSpotAndBadInput) {
  json j = sample_sweep();
  j["sweet_spot"] = nullptr;
  const std::string html = render_html_report(j);
  EXPECT_EQ(count(html, "<circle class=\"sweet-spot\""), 0u);
  EXPECT_NE(html.find("No cell met the SLO"), std::string::npos);
  EXPECT_THROW(render_html_report(json{{"duration", 1}}), Error);
  json bad = sample_sweep();
  bad["rows"][0].erase("max_tokens");
  EXPECT_THROW(render_html_report(bad), Error);
  const fs::path path = fs::temp_directory_path() / ("serval_report_bad_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << "{not json";
  EXPECT_THROW(load_sweep_json(path.string()), Error);
  EXPECT_THROW(load_sweep_json("/nonexistent/sweep.json"), Error);
}

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string cmd = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return name;
  }
  return "";
}

#ifdef SERVAL_HAVE_PNG
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;
  size_t count_colour(const char* hex, int tolerance = 2) const {
    const int r = std::stoi(std::string(hex + 1, 2), nullptr, 16), g = std::stoi(std::string(hex + 3, 2), nullptr, 16),
              b = std::stoi(std::string(hex + 5, 2), nullptr, 16);
    size_t n = 0;
    for (size_t i = 0; i + 3 < rgba.size(); i += 4)
      if (std::abs(rgba[i] - r) <= tolerance && std::abs(rgba[i + 1] - g) <= tolerance && std::abs(rgba[i + 2] - b) <= tolerance)
        ++n;
    return n;
  }
};

Image read_png(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  Image out;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return out;
  image.format = PNG_FORMAT_RGBA;
  out.rgba.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.rgba.data(), 0, nullptr)) return {};
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  return out;
}
#endif

TEST(BenchReport, RendersInHeadlessChromium) {
#ifndef SERVAL_HAVE_PNG
  GTEST_SKIP() << "libpng not found at configure time (apt-get install libpng-dev)";
#else
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (apt-get install chromium); CI installs it";
  const fs::path dir = fs::temp_directory_path() / ("serval_report_render_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path html = dir / "report.html", png = dir / "shot.png";
  write_text_file(html.string(), render_html_report(sample_sweep()));
  const std::string cmd = chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run" +
                          " --user-data-dir=" + (dir / "profile").string() + " --screenshot=" + png.string() +
                          " --window-size=1280,1400 file://" + html.string() + " >" + (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "chromium failed; see " << (dir / "log.txt");
  const Image shot = read_png(png.string());
  ASSERT_EQ(shot.width, 1280);
  ASSERT_EQ(shot.height, 1400);
  size_t non_white = 0;
  for (size_t i = 0; i + 3 < shot.rgba.size(); i += 4)
    if (shot.rgba[i] < 240 || shot.rgba[i + 1] < 240 || shot.rgba[i + 2] < 240) ++non_white;
  EXPECT_GT(non_white, shot.rgba.size() / 4 / 50) << "the page looks blank";
  // Each chart drew: the series dots (two max_tokens values), the SLO lines, the sweet-spot rings, the bars.
  EXPECT_GT(shot.count_colour(kSeriesColours[0]), 200u);
  EXPECT_GT(shot.count_colour(kSeriesColours[1]), 200u);
  EXPECT_GT(shot.count_colour(kSloColour), 300u);
  EXPECT_GT(shot.count_colour(kSweetSpotColour), 100u);
  EXPECT_GT(shot.count_colour(kP50BarColour), 500u);
  EXPECT_GT(shot.count_colour(kP95BarColour), 500u);
  fs::remove_all(dir);
#endif
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void run_cli(const std::string& args) {
  CLI::App app;
  CLI::App* bench = app.add_subcommand("bench");
  cli::add_bench_sweep_command(*bench);
  cli::add_bench_report_command(*bench);
  cli::add_bench_probe_command(*bench);
  app.parse("bench " + args, false);
}

TEST(BenchSweepCommand, WritesCsvJsonAndHtmlAndReportRedrawsIt) {
  test::ScriptedServer server([](int, const nlohmann::json& body) {
    return test::simple_script(0.003, 0.001, body.value("max_tokens", 1));
  });
  const fs::path dir = fs::temp_directory_path() / ("serval_sweep_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  run_cli("sweep --base-url " + server.base_url() + " --model tiny --label cpu-test --concurrency 1,2 --max-tokens 2,3"
          " --num-prompts 4 --goodput ttft:1000 --output-csv " + (dir / "s.csv").string() + " --output-json " +
          (dir / "s.json").string() + " --html " + (dir / "s.html").string());
  EXPECT_EQ(server.requests_received(), 16);
  const std::string csv = read_file(dir / "s.csv");
  EXPECT_EQ(count(csv, "\ncpu-test,"), 4u) << csv;
  const json j = load_sweep_json((dir / "s.json").string());
  EXPECT_EQ(j["rows"].size(), 4u);
  EXPECT_EQ(j["goodput"]["ttft_ms"], 1000.0);
  EXPECT_TRUE(j["sweet_spot"].is_number());
  const std::string html = read_file(dir / "s.html");
  EXPECT_EQ(count(html, "<circle class=\"point\""), 3u * 4);
  // bench report redraws the same page from the JSON.
  run_cli("report " + (dir / "s.json").string() + " -o " + (dir / "r.html").string() + " --csv " + (dir / "r.csv").string());
  EXPECT_EQ(read_file(dir / "r.html"), html);
  EXPECT_EQ(read_file(dir / "r.csv"), csv);
  fs::remove_all(dir);
}

TEST(BenchSweepCommand, ProbeAndBadFlags) {
  test::ScriptedServer server([](int, const nlohmann::json&) { return test::simple_script(0.002, 0.001, 2); });
  const fs::path out = fs::temp_directory_path() / ("serval_probe_cli_" + std::to_string(::getpid()) + ".json");
  run_cli("probe --base-url " + server.base_url() + " --model tiny --num-probes 2 --prompt-len 8 --save-result " +
          out.string() + " -o json");
  const json j = json::parse(read_file(out));
  EXPECT_EQ(j["completed"], 4);
  EXPECT_EQ(j["cold_ttft_ms"]["count"], 2);
  EXPECT_THROW(run_cli("sweep --model m --concurrency 1,x"), Error);
  EXPECT_THROW(run_cli("sweep --model m --max-tokens 0"), Error);
  EXPECT_THROW(run_cli("sweep --model m --goodput itl:5"), Error);
  EXPECT_THROW(run_cli("report /nonexistent.json -o /tmp/x.html"), Error);
  EXPECT_THROW(run_cli("probe --model m -o yaml --base-url " + server.base_url()), Error);
  const std::string dead = "http://127.0.0.1:" + std::to_string(test::unused_port());
  try {
    run_cli("sweep --model m --concurrency 1 --max-tokens 2 --num-prompts 2 --base-url " + dead);
    FAIL() << "expected serval::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("all 2 requests of the sweep failed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace serval::bench

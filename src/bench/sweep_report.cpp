// The sweep's HTML report (see sweep_report.h).
// NOTE: the SVG is written by hand: Debian packages no C++ charting library, and scatter plots, lines
// and bars are a few elements each; a static SVG opens offline and prints without any script.
#include "bench/sweep_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "core/error.h"

namespace serval::bench {

namespace {

using json = nlohmann::ordered_json;

struct Row {
  std::string name;     // "c=8 / 128" or "4 req/s / 128"
  std::string outer;    // "c=8" or "4/s"
  int max_tokens = 0;
  int errors = 0;
  bool meets_slo = false;
  double throughput = 0;  // output tok/s
  double p50_ttft = 0, p95_ttft = 0, p95_tpot = 0, p95_e2el = 0, p50_itl = 0, p95_itl = 0;
};

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double get_number(const json& row, const char* key) {
  const json& v = row.at(key);
  return v.is_number() ? v.get<double>() : 0.0;
}

std::vector<Row> read_rows(const json& sweep) {
  check(sweep.is_object() && sweep.contains("rows") && sweep["rows"].is_array(),
        "not a sweep result: no 'rows' array (write one with `serval bench sweep --output-json`)");
  std::vector<Row> rows;
  for (const json& r : sweep["rows"]) {
    try {
      Row row;
      row.max_tokens = r.at("max_tokens").get<int>();
      if (r.at("request_rate").is_number()) row.outer = num(r["request_rate"].get<double>(), 2) + "/s";
      else row.outer = "c=" + std::to_string(r.at("concurrency").get<int>());
      row.name = row.outer + " / " + std::to_string(row.max_tokens);
      row.errors = r.at("errors").get<int>();
      row.meets_slo = r.at("meets_slo").get<bool>();
      row.throughput = get_number(r, "output_throughput");
      row.p50_ttft = get_number(r, "p50_ttft_ms");
      row.p95_ttft = get_number(r, "p95_ttft_ms");
      row.p95_tpot = get_number(r, "p95_tpot_ms");
      row.p95_e2el = get_number(r, "p95_e2el_ms");
      row.p50_itl = get_number(r, "p50_itl_ms");
      row.p95_itl = get_number(r, "p95_itl_ms");
      rows.push_back(row);
    } catch (const json::exception& e) {
      throw Error(std::string("not a sweep result: a row lacks a field (") + e.what() + ")");
    }
  }
  return rows;
}

// A round axis maximum and tick step (1, 2 or 5 x 10^k) covering [0, v].
std::pair<double, double> nice_axis(double v) {
  if (!(v > 0)) v = 1;
  const double raw = v / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  return {std::ceil(v / step) * step, step};
}

// One plotting area inside an <svg>: maps data to pixels and draws axes with ticks.
struct Plot {
  double left = 60, top = 30, width = 280, height = 200;
  double x_max = 1, y_max = 1, x_step = 1, y_step = 1;

  double px(double x) const { return left + x / x_max * width; }
  double py(double y) const { return top + height - y / y_max * height; }

  std::string axes(const std::string& x_label, const std::string& y_label, bool x_ticks = true) const {
    std::string s;
    for (double y = 0; y <= y_max + y_step / 2; y += y_step) {
      s += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(left + width) + "\" y2=\"" +
           num(py(y)) + "\" stroke=\"#e5e5e5\"/>";
      s += "<text x=\"" + num(left - 6) + "\" y=\"" + num(py(y) + 4) + "\" text-anchor=\"end\" class=\"tick\">" +
           num(y, y_step < 1 ? 2 : 0) + "</text>";
    }
    if (x_ticks)
      for (double x = 0; x <= x_max + x_step / 2; x += x_step)
        s += "<text x=\"" + num(px(x)) + "\" y=\"" + num(top + height + 16) + "\" text-anchor=\"middle\" class=\"tick\">" +
             num(x, x_step < 1 ? 2 : 0) + "</text>";
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top + height) + "\" x2=\"" + num(left + width) + "\" y2=\"" +
         num(top + height) + "\" stroke=\"#333\"/>";
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(top + height) +
         "\" stroke=\"#333\"/>";
    s += "<text x=\"" + num(left + width / 2) + "\" y=\"" + num(top + height + 34) +
         "\" text-anchor=\"middle\" class=\"axis\">" + esc(x_label) + "</text>";
    s += "<text transform=\"translate(14," + num(top + height / 2) + ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" +
         esc(y_label) + "</text>";
    return s;
  }
};

// Throughput (x) vs one p95 latency (y): every cell a dot coloured by max_tokens, the Pareto frontier
// (no other cell has both more throughput and less latency) as a dashed line, the SLO as a red line,
// the sweet spot ringed.
std::string frontier_panel(const std::string& title, const std::vector<Row>& rows, double Row::*metric,
                           std::optional<double> slo, std::optional<size_t> sweet,
                           const std::map<int, size_t>& series) {
  Plot p;
  double x_max = 0, y_max = slo.value_or(0);
  for (const Row& r : rows) {
    x_max = std::max(x_max, r.throughput);
    y_max = std::max(y_max, r.*metric);
  }
  std::tie(p.x_max, p.x_step) = nice_axis(x_max * 1.05);
  std::tie(p.y_max, p.y_step) = nice_axis(y_max * 1.1);
  std::string s = "<svg class=\"chart frontier\" width=\"360\" height=\"280\" viewBox=\"0 0 360 280\" "
                  "xmlns=\"http://www.w3.org/2000/svg\">";
  s += "<text x=\"180\" y=\"16\" text-anchor=\"middle\" class=\"title\">" + esc(title) + "</text>";
  s += p.axes("output tokens/s", "ms");

  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rows[a].throughput != rows[b].throughput ? rows[a].throughput > rows[b].throughput
                                                    : rows[a].*metric < rows[b].*metric;
  });
  std::vector<size_t> frontier;
  double best = INFINITY;
  for (size_t i : order)
    if (rows[i].errors == 0 && rows[i].*metric < best) {
      best = rows[i].*metric;
      frontier.push_back(i);
    }
  if (frontier.size() > 1) {
    std::string d;
    for (auto it = frontier.rbegin(); it != frontier.rend(); ++it)
      d += (d.empty() ? "M" : " L") + num(p.px(rows[*it].throughput)) + " " + num(p.py(rows[*it].*metric));
    s += "<path class=\"frontier-line\" d=\"" + d + "\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" "
         "stroke-dasharray=\"5 3\"/>";
  }
  if (slo) {
    const double y = std::round(p.py(*slo));
    s += "<line class=\"slo-line\" x1=\"" + num(p.left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(p.left + p.width) +
         "\" y2=\"" + num(y) + "\" stroke=\"" + kSloColour + "\" stroke-width=\"3\"/>";
    s += "<text x=\"" + num(p.left + p.width - 2) + "\" y=\"" + num(y - 5) + "\" text-anchor=\"end\" class=\"slo\">SLO " +
         num(*slo, 0) + " ms</text>";
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double cx = p.px(r.throughput), cy = p.py(r.*metric);
    if (sweet && *sweet == i)
      s += "<circle class=\"sweet-spot\" cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"11\" fill=\"none\" stroke=\"" +
           kSweetSpotColour + "\" stroke-width=\"4\"/>";
    const char* colour = kSeriesColours[series.at(r.max_tokens) % std::size(kSeriesColours)];
    s += "<circle class=\"point\" cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"6\" fill=\"" + colour +
         "\"" + (r.errors > 0 ? " stroke=\"#000\" stroke-width=\"2\"" : "") + "><title>" + esc(r.name) + ": " +
         num(r.throughput) + " tok/s, " + num(r.*metric) + " ms" + (r.errors > 0 ? ", errors" : "") +
         "</title></circle>";
    s += "<text x=\"" + num(cx + 8) + "\" y=\"" + num(cy - 6) + "\" class=\"point-label\">" + esc(r.outer) + "</text>";
  }
  return s + "</svg>";
}

// p50 and p95 of one latency per cell as paired bars.
std::string bars_chart(const std::string& title, const std::vector<Row>& rows, double Row::*p50, double Row::*p95,
                       std::optional<size_t> sweet) {
  Plot p;
  p.width = std::max(300.0, 56.0 * static_cast<double>(rows.size()));
  p.height = 200;
  double y_max = 0;
  for (const Row& r : rows) y_max = std::max({y_max, r.*p50, r.*p95});
  std::tie(p.y_max, p.y_step) = nice_axis(y_max * 1.1);
  const double total_w = p.left + p.width + 20;
  std::string s = "<svg class=\"chart bars\" width=\"" + num(total_w, 0) + "\" height=\"290\" viewBox=\"0 0 " +
                  num(total_w, 0) + " 290\" xmlns=\"http://www.w3.org/2000/svg\">";
  s += "<text x=\"" + num(total_w / 2) + "\" y=\"16\" text-anchor=\"middle\" class=\"title\">" + esc(title) + "</text>";
  s += p.axes("", "ms", false);
  const double slot = p.width / static_cast<double>(std::max<size_t>(rows.size(), 1));
  const double bar = std::min(18.0, slot * 0.35);
  for (size_t i = 0; i < rows.size(); ++i) {
    const double x0 = p.left + slot * static_cast<double>(i) + slot / 2;
    const double base = p.py(0);
    auto rect = [&](double x, double v, const char* colour, const char* cls) {
      const double y = p.py(v);
      return "<rect class=\"" + std::string(cls) + "\" x=\"" + num(std::round(x)) + "\" y=\"" + num(std::round(y)) +
             "\" width=\"" + num(std::round(bar)) + "\" height=\"" + num(std::max(0.0, std::round(base) - std::round(y))) +
             "\" fill=\"" + colour + "\"><title>" + esc(rows[i].name) + ": " + num(v, 2) + " ms</title></rect>";
    };
    s += rect(x0 - bar - 1, rows[i].*p50, kP50BarColour, "bar-p50");
    s += rect(x0 + 1, rows[i].*p95, kP95BarColour, "bar-p95");
    const std::string weight = sweet && *sweet == i ? " font-weight=\"bold\"" : "";
    s += "<text x=\"" + num(x0) + "\" y=\"" + num(base + 14) + "\" text-anchor=\"middle\" class=\"tick\"" + weight + ">" +
         esc(rows[i].outer) + "</text>";
    s += "<text x=\"" + num(x0) + "\" y=\"" + num(base + 26) + "\" text-anchor=\"middle\" class=\"tick\"" + weight + ">" +
         std::to_string(rows[i].max_tokens) + " tok</text>";
  }
  s += "<rect x=\"" + num(p.left + 8) + "\" y=\"" + num(p.top) + "\" width=\"10\" height=\"10\" fill=\"" + kP50BarColour +
       "\"/><text x=\"" + num(p.left + 22) + "\" y=\"" + num(p.top + 9) + "\" class=\"tick\">p50</text>";
  s += "<rect x=\"" + num(p.left + 52) + "\" y=\"" + num(p.top) + "\" width=\"10\" height=\"10\" fill=\"" + kP95BarColour +
       "\"/><text x=\"" + num(p.left + 66) + "\" y=\"" + num(p.top + 9) + "\" class=\"tick\">p95</text>";
  return s + "</svg>";
}

std::string cell_text(const json& v) {
  if (v.is_null()) return "&ndash;";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return num(v.get<double>(), std::fabs(v.get<double>()) < 10 ? 3 : 1);
  return esc(v.is_string() ? v.get<std::string>() : v.dump());
}

std::optional<double> slo_of(const json& sweep, const char* key) {
  if (!sweep.contains("goodput") || !sweep["goodput"].is_object()) return std::nullopt;
  const json& g = sweep["goodput"];
  if (!g.contains(key) || !g[key].is_number()) return std::nullopt;
  return g[key].get<double>();
}

}  // namespace

std::string render_html_report(const json& sweep) {
  const std::vector<Row> rows = read_rows(sweep);
  std::optional<size_t> sweet;
  if (sweep.contains("sweet_spot") && sweep["sweet_spot"].is_number_integer() && sweep["sweet_spot"].get<int64_t>() >= 0 &&
      sweep["sweet_spot"].get<size_t>() < rows.size())
    sweet = sweep["sweet_spot"].get<size_t>();
  std::map<int, size_t> series;  // max_tokens -> colour index
  for (const Row& r : rows) series.emplace(r.max_tokens, series.size());

  const std::string label = sweep.value("label", std::string());
  const std::string model = sweep.value("model_id", std::string());
  const double slo_p = sweep.value("slo_percentile", 95.0);
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>serval sweep: " +
                  esc(label.empty() ? model : label) + "</title>\n";
  h += "<style>body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;"
       "background:#fff}h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:24px 0 8px}"
       ".meta{color:#555;font-size:13px}.charts{display:flex;flex-wrap:wrap;gap:8px}"
       "svg text{font-family:inherit}.title{font-size:13px;font-weight:600}.tick{font-size:10px;fill:#555}"
       ".axis{font-size:11px;fill:#333}.slo{font-size:10px;fill:#d62728}.point-label{font-size:9px;fill:#333}"
       "table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}"
       "th{background:#f3f3f3}tr.sweet td{background:#fff4d6;font-weight:600}tr.fail td{color:#a00}"
       ".legend span{display:inline-block;margin-right:14px;font-size:12px}.sw{display:inline-block;width:10px;"
       "height:10px;border-radius:5px;margin-right:4px}</style></head><body>\n";
  h += "<h1>serval bench sweep" + (label.empty() ? std::string() : ": " + esc(label)) + "</h1>\n";
  h += "<div class=\"meta\">model <b>" + esc(model) + "</b> at " + esc(sweep.value("base_url", std::string())) +
       sweep.value("endpoint", std::string()) + ", dataset <b>" + esc(sweep.value("dataset", std::string())) +
       "</b>, grid over " + esc(sweep.value("grid", std::string("concurrency"))) + " &times; max_tokens. ";
  std::string slos;
  for (const char* key : {"ttft_ms", "tpot_ms", "e2el_ms"})
    if (auto v = slo_of(sweep, key)) slos += (slos.empty() ? "" : ", ") + std::string(key).substr(0, 4) + " &le; " + num(*v, 0) + " ms";
  h += "SLO at p" + num(slo_p, 0) + ": " + (slos.empty() ? std::string("none given (--goodput)") : slos) + ".</div>\n";
  if (sweet)
    h += "<p><b>Sweet spot: " + esc(rows[*sweet].name) + "</b> &mdash; " + num(rows[*sweet].throughput) +
         " output tok/s, p95 TTFT " + num(rows[*sweet].p95_ttft) + " ms, p95 TPOT " + num(rows[*sweet].p95_tpot, 2) +
         " ms: the highest throughput among cells without errors" + (slos.empty() ? "" : " that meet the SLO") + ".</p>\n";
  else
    h += "<p><b>No cell met the SLO</b> (or every cell had errors).</p>\n";

  h += "<h2>Throughput vs p95 latency</h2>\n<div class=\"legend\">";
  for (const auto& [max_tokens, idx] : series)
    h += "<span><i class=\"sw\" style=\"background:" + std::string(kSeriesColours[idx % std::size(kSeriesColours)]) +
         "\"></i>max_tokens " + std::to_string(max_tokens) + "</span>";
  h += "<span><i class=\"sw\" style=\"background:none;border:2px solid " + std::string(kSweetSpotColour) +
       "\"></i>sweet spot</span><span style=\"color:" + std::string(kSloColour) +
       "\">&mdash; SLO</span><span>- - - Pareto frontier</span><span><i class=\"sw\" style=\"background:#999;border:2px solid #000\"></i>cell with errors</span></div>\n<div class=\"charts\">";
  h += frontier_panel("p95 TTFT", rows, &Row::p95_ttft, slo_of(sweep, "ttft_ms"), sweet, series);
  h += frontier_panel("p95 TPOT", rows, &Row::p95_tpot, slo_of(sweep, "tpot_ms"), sweet, series);
  h += frontier_panel("p95 end-to-end latency", rows, &Row::p95_e2el, slo_of(sweep, "e2el_ms"), sweet, series);
  h += "</div>\n<h2>Time to first token per cell</h2>\n<div class=\"charts\">";
  h += bars_chart("TTFT (ms)", rows, &Row::p50_ttft, &Row::p95_ttft, sweet);
  h += "</div>\n<h2>Inter-token latency per cell</h2>\n<div class=\"charts\">";
  h += bars_chart("ITL (ms)", rows, &Row::p50_itl, &Row::p95_itl, sweet);
  h += "</div>\n<h2>All cells</h2>\n<table><thead><tr>";
  const json& json_rows = sweep["rows"];
  if (!json_rows.empty())
    for (const auto& [key, value] : json_rows[0].items()) h += "<th>" + esc(key) + "</th>";
  h += "</tr></thead><tbody>\n";
  for (size_t i = 0; i < json_rows.size(); ++i) {
    const char* cls = sweet && *sweet == i ? " class=\"sweet\"" : rows[i].errors > 0 ? " class=\"fail\"" : "";
    h += std::string("<tr") + cls + ">";
    for (const auto& [key, value] : json_rows[i].items()) h += "<td>" + cell_text(value) + "</td>";
    h += "</tr>\n";
  }
  h += "</tbody></table>\n<p class=\"meta\">Metrics as vLLM's bench serve defines them (docs/MEASURING.md). "
       "Written by serval bench sweep; this file needs no network.</p>\n</body></html>\n";
  return h;
}

json load_sweep_json(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "cannot open '" + path + "'");
  json j = json::parse(in, nullptr, false);
  check(!j.is_discarded(), "'" + path + "' is not valid JSON");
  check(j.is_object() && j.contains("rows"), "'" + path + "' is not a sweep result (no 'rows'; write one with bench sweep --output-json)");
  return j;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  check(out.good(), "cannot write '" + path + "'");
  out << text;
  out.close();
  check(out.good(), "cannot write '" + path + "'");
}

}  // namespace serval::bench

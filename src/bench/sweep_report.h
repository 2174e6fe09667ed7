// The self-contained HTML report of a sweep: inline SVG charts drawn here (no scripts, no network) —
// throughput vs p95 latency frontiers with the SLO lines and the sweet spot, TTFT and ITL per cell —
// and the table of every cell. Input is sweep_json's object, so `bench report` can redraw a saved run.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace serval::bench {

// Colours the charts use (tests look for them in a rendered screenshot).
inline constexpr const char* kSeriesColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf"};
inline constexpr const char* kSloColour = "#d62728";
inline constexpr const char* kSweetSpotColour = "#f2b01e";
inline constexpr const char* kP50BarColour = "#9ecae1";
inline constexpr const char* kP95BarColour = "#08519c";

// Throws serval::Error naming the missing field when `sweep` is not a sweep result.
std::string render_html_report(const nlohmann::ordered_json& sweep);

// Reads a saved sweep JSON (sweep --output-json). Throws serval::Error naming the file when unreadable.
nlohmann::ordered_json load_sweep_json(const std::string& path);

// Writes text to path. Throws serval::Error naming the path when it cannot.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace serval::bench

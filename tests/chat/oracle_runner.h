// Runs the template oracles (Python Jinja2 and @huggingface/jinja) once over a batch of cases and
// returns their renders, for byte-for-byte comparison with serval::ChatTemplate.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace serval::test {

struct OracleCase {
  std::string label;
  std::string source;              // the template
  nlohmann::ordered_json context;  // every variable the template sees
  std::optional<int64_t> now;      // fixes strftime_now() when set
};

struct OracleResult {
  bool ok = false;
  std::string text;  // the render, or the error message
};

// Each returns one result per case, or throws std::runtime_error with a message naming
// scripts/install-deps.sh when the oracle is not installed.
std::vector<OracleResult> run_python_jinja2(const std::vector<OracleCase>& cases);
std::vector<OracleResult> run_huggingface_jinja(const std::vector<OracleCase>& cases);

}  // namespace serval::test

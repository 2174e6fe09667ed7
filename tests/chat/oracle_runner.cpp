// Oracle runner: writes the cases to a JSON file, runs one oracle process over all of them, parses its
// output.
#include "chat/oracle_runner.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "test_paths.h"

namespace serval::test {

namespace {

std::string write_cases(const std::vector<OracleCase>& cases, const std::string& name) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const OracleCase& c : cases) {
    nlohmann::ordered_json j = {{"template", c.source}, {"context", c.context}};
    if (c.now) j["now"] = *c.now;
    list.push_back(std::move(j));
  }
  std::string path = binary_dir() + "/" + name + "." + std::to_string(::getpid()) + ".json";
  std::ofstream out(path, std::ios::binary);
  out << list.dump();
  if (!out) throw std::runtime_error("cannot write oracle cases to " + path);
  return path;
}

std::string run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run: " + command);
  std::string output;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  int status = ::pclose(pipe);
  if (status != 0)
    throw std::runtime_error("oracle command failed (status " + std::to_string(status) + "): " + command);
  return output;
}

std::vector<OracleResult> parse_results(const std::string& output, size_t expected,
                                        const std::string& oracle) {
  nlohmann::json results;
  try {
    results = nlohmann::json::parse(output);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(oracle + " printed invalid JSON: " + e.what() + ": " + output.substr(0, 500));
  }
  if (!results.is_array() || results.size() != expected)
    throw std::runtime_error(oracle + " returned " + std::to_string(results.size()) + " results for " +
                             std::to_string(expected) + " cases");
  std::vector<OracleResult> out;
  for (const auto& r : results)
    out.push_back(
        {r.at("ok").get<bool>(), r.at(r.at("ok").get<bool>() ? "text" : "error").get<std::string>()});
  return out;
}

std::string python_binary() {
  // Debian's interpreter, where python3-jinja2 installs; a python3 on PATH may be another one.
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

}  // namespace

std::vector<OracleResult> run_python_jinja2(const std::vector<OracleCase>& cases) {
  std::string python = python_binary();
  if (std::system((python + " -c 'import jinja2.sandbox' 2>/dev/null").c_str()) != 0)
    throw std::runtime_error("Python Jinja2 (the reference renderer) is not installed for " + python +
                             ": run scripts/install-deps.sh (Debian package python3-jinja2)");
  std::string path = write_cases(cases, "chat_oracle_python");
  std::string script = source_dir() + "/tests/oracle/render_jinja_templates.py";
  std::string output = run_command(python + " '" + script + "' '" + path + "'");
  std::filesystem::remove(path);
  return parse_results(output, cases.size(), "Python Jinja2");
}

std::vector<OracleResult> run_huggingface_jinja(const std::vector<OracleCase>& cases) {
  std::string module = source_dir() + "/tests/oracle/node_modules/@huggingface/jinja/package.json";
  if (!std::filesystem::exists(module) || std::system("node --version >/dev/null 2>&1") != 0)
    throw std::runtime_error(
        "node or tests/oracle/node_modules/@huggingface/jinja is missing: run scripts/install-deps.sh");
  std::string path = write_cases(cases, "chat_oracle_hf");
  std::string script = source_dir() + "/tests/oracle/render_templates.mjs";
  std::string output = run_command("node '" + script + "' '" + path + "'");
  std::filesystem::remove(path);
  return parse_results(output, cases.size(), "@huggingface/jinja");
}

}  // namespace serval::test

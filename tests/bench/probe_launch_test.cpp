// `serval bench probe --server-cmd`: the real binary starts a real `serval serve` on the tiny golden model,
// times it to ready, takes a cold and N warm requests, stops it cleanly; a command that exits at once is a
// clear error naming the command.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_paths.h"

namespace fs = std::filesystem;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

RunResult run(const std::string& args) {
  const std::string cmd = std::string(SERVAL_BINARY) + " " + args + " < /dev/null 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A port nothing listens on right now (the kernel's pick for an ephemeral bind, released again).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("serval_probe_launch_" + name + "_" + std::to_string(::getpid()));
}

TEST(BenchProbeLaunch, StartsServesAndStopsARealServer) {
  SERVAL_REQUIRE_GOLDEN();
  const int port = free_port();
  ASSERT_NE(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string server_cmd = std::string(SERVAL_BINARY) + " serve " + serval::test::golden_dir() +
                                 "/models/qwen2-tiny --host 127.0.0.1 --port " + std::to_string(port) +
                                 " --dtype float32 --kv-cache-memory 8MiB --max-model-len 1k"
                                 " --served-model-name tiny --disable-log-requests";
  const fs::path log = temp_file("server.log");
  const fs::path saved = temp_file("result.json");
  const RunResult r = run("bench probe --server-cmd \"" + server_cmd + "\" --base-url " + url +
                          " --model tiny --num-warm 3 --prompt-len 48 --max-tokens 4 --ready-timeout 60"
                          " --server-log " + log.string() + " --save-result " + saved.string() + " -o json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  std::ifstream in(saved);
  EXPECT_EQ(nlohmann::json::parse(in), j);
  EXPECT_EQ(j.at("mode"), "launch");
  EXPECT_EQ(j.at("server_cmd"), server_cmd);
  EXPECT_EQ(j.at("server_log"), log.string());
  EXPECT_GT(j.at("time_to_ready_s").get<double>(), 0);
  EXPECT_GE(j.at("health_polls").get<int>(), 1);
  EXPECT_GT(j.at("cold_ttft_ms").get<double>(), 0);
  EXPECT_GE(j.at("cold_e2el_ms").get<double>(), j.at("cold_ttft_ms").get<double>());
  const nlohmann::json& warm = j.at("warm_ttft_ms");
  EXPECT_EQ(warm.at("count"), 3);
  EXPECT_EQ(j.at("warm_ttfts_ms").size(), 3u);
  EXPECT_GT(warm.at("min").get<double>(), 0);
  EXPECT_LE(warm.at("min").get<double>(), warm.at("median").get<double>());
  EXPECT_LE(warm.at("median").get<double>(), warm.at("max").get<double>());
  EXPECT_DOUBLE_EQ(warm.at("spread").get<double>(), warm.at("max").get<double>() - warm.at("min").get<double>());
  EXPECT_EQ(j.at("warm_e2el_ms").at("count"), 3);
  EXPECT_NEAR(j.at("ttft_cold_warm_ratio").get<double>(),
              j.at("cold_ttft_ms").get<double>() / warm.at("median").get<double>(), 1e-9);
  EXPECT_EQ(j.at("completed"), 4);
  EXPECT_EQ(j.at("failed"), 0);
  EXPECT_EQ(j.at("server_exit_code"), 0);
  EXPECT_EQ(j.at("server_killed"), false);
  EXPECT_TRUE(fs::exists(log));
  // The server is gone: nothing answers on its port any more.
  EXPECT_NE(run("bench probe --base-url " + url + " --model tiny --num-probes 1 --timeout 2").exit_code, 0);
  fs::remove(log);
  fs::remove(saved);
}

TEST(BenchProbeLaunch, ACommandThatExitsBeforeReadyIsAClearError) {
  const int port = free_port();
  ASSERT_NE(port, 0);
  const fs::path log = temp_file("false.log");
  const RunResult r = run("bench probe --server-cmd false --base-url http://127.0.0.1:" + std::to_string(port) +
                          " --model tiny --ready-timeout 30 --server-log " + log.string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("'false'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exited with code 1 before it was ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(log.string()), std::string::npos) << r.out;
  fs::remove(log);
}

TEST(BenchProbeLaunch, AServerThatNeverBecomesReadyTimesOutWithItsLog) {
  const int port = free_port();
  ASSERT_NE(port, 0);
  const fs::path log = temp_file("sleep.log");
  const RunResult r = run("bench probe --server-cmd \"echo starting up; sleep 30\" --base-url http://127.0.0.1:" +
                          std::to_string(port) + " --model tiny --ready-timeout 0.3 --server-log " + log.string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("'echo starting up; sleep 30' was not ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("starting up"), std::string::npos) << r.out;  // the log's last lines
  fs::remove(log);
}

}  // namespace

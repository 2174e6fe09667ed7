// ServeProcess: `serval serve ...` as a child process with its log in a file — waits for the
// "Starting serval API server on http://HOST:PORT" line, sends signals, and reports the exit code.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace serval::test {

class ServeProcess {
 public:
  // Starts `binary serve args...`; stdout and stderr go to a log file.
  ServeProcess(const std::string& binary, const std::vector<std::string>& args) {
    log_path_ = (std::filesystem::temp_directory_path() /
                 ("serval_serve_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ".log"))
                    .string();
    std::vector<std::string> argv_s = {binary, "serve"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "cannot start " << binary;
    if (rc != 0) pid_ = -1;
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::filesystem::remove(log_path_);
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Waits for the start-up line and returns the port, or 0 when the process exited or timed out.
  uint16_t wait_for_port(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const std::regex re("Starting serval API server on http://[^:]+:([0-9]+)");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, re)) return static_cast<uint16_t>(std::stoi(m[1]));
      if (try_wait()) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // Waits for the exit; returns the exit code (-1 on a signal death or timeout).
  int wait_exit(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!try_wait() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return exit_code_;
  }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  bool try_wait() {
    if (exited_) return true;
    if (pid_ <= 0) return exited_ = true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string log_path_;
};

}  // namespace serval::test

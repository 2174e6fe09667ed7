// serval::Error: the one exception type for user-facing failures (bad files, bad flags, bad input).
// Its message is a complete one-line sentence that names the problem; the CLI prints it and exits 1,
// the server turns it into an OpenAI-style 400 body.
#pragma once

#include <stdexcept>
#include <string>

namespace serval {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws serval::Error(message) when cond is false. For checks of user input, not internal invariants.
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace serval

// Helpers shared by the fuzz targets (tests/fuzz/targets/*.cpp). A target's outcome for any
// input is either a result or an sshdctl::Error; any other exception, a crash or a broken
// property is a finding, reported by abort() so that libFuzzer (and the replay driver) keep the
// input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "sshdctl/common/error.h"

namespace sshdctl::fuzz {

// Reports a finding and stops the process.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Checks a property of the result.
inline void check(bool ok, const std::string& what) {
  if (!ok) finding("property broken: " + what);
}

// Runs `f`: nullopt when it returned, the Error when it threw one; any other exception is a
// finding.
template <typename F>
std::optional<Error> outcome(const char* step, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    finding(std::string(step) + ": unexpected exception " + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding(std::string(step) + ": unexpected exception of a non-standard type");
  }
  return std::nullopt;
}

inline std::string bytes(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// The input as NUL-separated fields: field(i) is the i-th ("" past the end); present(i) says
// whether the input has that many fields at all.
class Fields {
 public:
  Fields(const std::uint8_t* data, std::size_t size) {
    std::string_view all(reinterpret_cast<const char*>(data), size);
    while (true) {
      const auto nul = all.find('\0');
      fields_.emplace_back(all.substr(0, nul));
      if (nul == std::string_view::npos) break;
      all.remove_prefix(nul + 1);
    }
  }
  [[nodiscard]] std::size_t size() const { return fields_.size(); }
  [[nodiscard]] bool present(std::size_t i) const { return i < fields_.size(); }
  [[nodiscard]] std::string field(std::size_t i) const { return present(i) ? fields_[i] : std::string(); }
  [[nodiscard]] std::optional<std::string> optional(std::size_t i) const {
    return present(i) ? std::optional<std::string>(fields_[i]) : std::nullopt;
  }

 private:
  std::vector<std::string> fields_;
};

}  // namespace sshdctl::fuzz

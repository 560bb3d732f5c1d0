// The replay driver of a fuzz target, for builds without libFuzzer (gcc; the default and asan
// presets): runs every file of the target's seed corpus through LLVMFuzzerTestOneInput, then a
// fixed number of pseudo-random mutations of them (a fixed seed: every run tries the same
// inputs). A crash, a sanitizer report or a broken property ends the process; the input that
// did it is written to fuzz-replay-crash-NAME in the working directory first.
//
//   fuzz_replay_NAME --name NAME --corpus DIR [--dict FILE] [--mutations N] [--seed S] [FILE...]
//
// With FILEs, only those are run (no mutations), as a libFuzzer binary runs its arguments.
// SSHDCTL_FUZZ_MUTATIONS and SSHDCTL_FUZZ_SEED override --mutations and --seed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxLen = 4096;  // libFuzzer's default -max_len for a small corpus

// The input being run, for the signal handler.
std::string g_current;
char g_crash_file[256] = "fuzz-replay-crash";

void save_current(int sig) {
  const int fd = ::open(g_crash_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    const char* p = g_current.data();
    std::size_t left = g_current.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::close(fd);
    static const char note[] = "fuzz replay: the failing input is in ";
    (void)!::write(2, note, sizeof note - 1);
    (void)!::write(2, g_crash_file, std::strlen(g_crash_file));
    (void)!::write(2, "\n", 1);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A libFuzzer dictionary: one "token" per line (optionally name="token"), with \\, \" and \xNN.
std::vector<std::string> read_dict(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    const auto open = line.find('"');
    const auto close = line.rfind('"');
    if (line.empty() || line[0] == '#' || open == std::string::npos || close <= open) continue;
    std::string token;
    for (std::size_t i = open + 1; i < close; ++i) {
      if (line[i] != '\\' || i + 1 >= close) {
        token += line[i];
      } else if (line[i + 1] == 'x' && i + 3 < close) {
        token += static_cast<char>(std::stoi(line.substr(i + 2, 2), nullptr, 16));
        i += 3;
      } else {
        token += line[++i];
      }
    }
    if (!token.empty()) out.push_back(token);
  }
  return out;
}

class Mutator {
 public:
  Mutator(unsigned seed, std::vector<std::string> dict, const std::vector<std::string>& corpus)
      : rng_(seed), dict_(std::move(dict)), corpus_(corpus) {}

  std::string next() {
    std::string s = corpus_[pick(corpus_.size())];
    const int edits = 1 + static_cast<int>(pick(6));
    for (int i = 0; i < edits; ++i) edit(s);
    if (s.size() > kMaxLen) s.resize(kMaxLen);
    return s;
  }

 private:
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }

  void edit(std::string& s) {
    const std::size_t at = pick(s.size() + 1);
    switch (pick(9)) {
      case 0:  // erase a few bytes
        if (!s.empty()) s.erase(std::min(at, s.size() - 1), 1 + pick(8));
        break;
      case 1:  // flip a bit
        if (!s.empty()) s[std::min(at, s.size() - 1)] ^= static_cast<char>(1U << pick(8));
        break;
      case 2:  // a random byte
        if (!s.empty()) s[std::min(at, s.size() - 1)] = static_cast<char>(pick(256));
        break;
      case 3:  // insert a random byte
        s.insert(at, 1, static_cast<char>(pick(256)));
        break;
      case 4:  // an interesting character of text formats
        s.insert(at, 1, "\n \t\"'#=,:[]{}-!*?%\\/\r\0"[pick(22)]);
        break;
      case 5:
      case 6:  // a dictionary token
        if (!dict_.empty()) s.insert(at, dict_[pick(dict_.size())]);
        break;
      case 7: {  // duplicate a chunk (repeats: lines, keys, sections)
        if (s.empty()) break;
        const std::size_t from = pick(s.size());
        const std::size_t len = 1 + pick(std::min<std::size_t>(64, s.size() - from));
        s.insert(at, s.substr(from, len));
        break;
      }
      default: {  // splice in a piece of another corpus file
        const std::string& other = corpus_[pick(corpus_.size())];
        if (other.empty()) break;
        const std::size_t from = pick(other.size());
        s.insert(at, other.substr(from, 1 + pick(std::min<std::size_t>(128, other.size() - from))));
        break;
      }
    }
  }

  std::mt19937 rng_;
  std::vector<std::string> dict_;
  const std::vector<std::string>& corpus_;
};

void run(const std::string& input) {
  g_current = input;
  (void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(g_current.data()), g_current.size());
}

long number(const char* env, long fallback) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? std::atol(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "target", corpus_dir, dict_file;
  long mutations = 1000;
  long seed = 20261124;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--name" && has_value) {
      name = argv[++i];
    } else if (a == "--corpus" && has_value) {
      corpus_dir = argv[++i];
    } else if (a == "--dict" && has_value) {
      dict_file = argv[++i];
    } else if (a == "--mutations" && has_value) {
      mutations = std::atol(argv[++i]);
    } else if (a == "--seed" && has_value) {
      seed = std::atol(argv[++i]);
    } else {
      files.push_back(a);
    }
  }
  mutations = number("SSHDCTL_FUZZ_MUTATIONS", mutations);
  seed = number("SSHDCTL_FUZZ_SEED", seed);
  std::snprintf(g_crash_file, sizeof g_crash_file, "fuzz-replay-crash-%s", name.c_str());
  for (const int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, save_current);

  const auto started = std::chrono::steady_clock::now();
  if (!files.empty()) {
    for (const auto& f : files) {
      std::printf("running %s\n", f.c_str());
      run(slurp(f));
    }
    std::printf("%s: %zu input(s) ran\n", name.c_str(), files.size());
    return 0;
  }

  std::vector<fs::path> paths;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(corpus_dir, ec))
    if (entry.is_regular_file()) paths.push_back(entry.path());
  if (ec || paths.empty()) {
    std::fprintf(stderr, "%s: no seed corpus in '%s'\n", name.c_str(), corpus_dir.c_str());
    return 2;
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> corpus;
  for (const auto& p : paths) {
    corpus.push_back(slurp(p));
    run(corpus.back());
  }
  Mutator mutator(static_cast<unsigned>(seed), dict_file.empty() ? std::vector<std::string>{} : read_dict(dict_file),
                  corpus);
  for (long i = 0; i < mutations; ++i) run(mutator.next());
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  std::printf("%s: %zu corpus file(s) and %ld mutation(s) (seed %ld) ran in %lld ms, no finding\n", name.c_str(),
              corpus.size(), mutations, seed, static_cast<long long>(ms));
  return 0;
}

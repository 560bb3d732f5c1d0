// Mutation fuzzing of the lens and the engine (run under ASan+UBSan): seeded random edits of
// real distributions' sshd_config files. Every input must either be refused with a located
// parse error, or load; a loaded one must take a PermitRootLogin edit that re-parses to the
// value asked for. Set SSHDCTL_FUZZ_RUNS and SSHDCTL_FUZZ_SEED to run longer or elsewhere.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "sshdctl/common/error.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/host/fs_host.h"

namespace sshdctl {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Root {
  fs::path dir;
  explicit Root(const std::string& config) {
    std::string pattern = (fs::temp_directory_path() / "sshdctl-fuzz.XXXXXX").string();
    dir = ::mkdtemp(pattern.data());
    fs::create_directories(dir / "etc/ssh");
    std::ofstream(dir / "etc/ssh/sshd_config", std::ios::binary) << config;
  }
  ~Root() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string mutate(std::string text, std::mt19937& rng) {
  static const std::vector<std::string> pieces{" ",
                                               "\t",
                                               "\n",
                                               "#",
                                               "=",
                                               "\"",
                                               ",",
                                               "!",
                                               "*",
                                               "Match ",
                                               "Match all\n",
                                               "User root",
                                               "Address 10.0.0.0/8",
                                               "PermitRootLogin yes\n",
                                               "Include /etc/ssh/sshd_config.d/*.conf\n",
                                               "Ciphers a,b\n",
                                               "AcceptEnv LANG\n",
                                               "Subsystem sftp internal-sftp\n",
                                               "permitrootlogin=no\n",
                                               "  PasswordAuthentication no\n",
                                               "\\"};
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !text.empty(); ++i) {
    const std::size_t at = rng() % text.size();
    switch (rng() % 4) {
      case 0:
        text.erase(at, 1 + rng() % 8);
        break;
      case 1:
        text.insert(at, pieces[rng() % pieces.size()]);
        break;
      case 2: {  // duplicate a line
        const auto start = text.rfind('\n', at);
        const auto end = text.find('\n', at);
        const auto s = start == std::string::npos ? 0 : start + 1;
        text.insert(s, text.substr(s, (end == std::string::npos ? text.size() : end + 1) - s));
        break;
      }
      default:
        text[at] = static_cast<char>(' ' + rng() % 95);
        break;
    }
  }
  return text;
}

TEST(ConfigFuzz, EveryInputIsRefusedWithALocationOrEditedCorrectly) {
  const int runs = std::getenv("SSHDCTL_FUZZ_RUNS") ? std::atoi(std::getenv("SSHDCTL_FUZZ_RUNS")) : 60;
  const unsigned seed =
      std::getenv("SSHDCTL_FUZZ_SEED") ? static_cast<unsigned>(std::atoi(std::getenv("SSHDCTL_FUZZ_SEED"))) : 20261124U;
  std::vector<std::string> corpus;
  for (const char* f :
       {"debian12-cloud/etc/ssh/sshd_config", "ubuntu2404/etc/ssh/sshd_config", "rocky9/etc/ssh/sshd_config",
        "alpine/etc/ssh/sshd_config", "hostile-match-all/etc/ssh/sshd_config", "hostile-equals/etc/ssh/sshd_config",
        "hostile-lowercase/etc/ssh/sshd_config"})
    corpus.push_back(slurp(fs::path(SSHDCTL_FIXTURES) / f));
  std::mt19937 rng(seed);
  const config::OptionKey permit{config::find_keyword("PermitRootLogin"), {}};
  int parsed = 0, refused = 0, edited = 0;
  for (int run = 0; run < runs; ++run) {
    const std::string input = mutate(corpus[rng() % corpus.size()], rng);
    SCOPED_TRACE("seed " + std::to_string(seed) + " run " + std::to_string(run) + " input:\n" + input);
    Root root(input);
    host::FsHost target(root.dir.string());
    config::ConfigTree tree(target, SSHDCTL_LENSES);
    try {
      tree.load();
    } catch (const Error& e) {
      ASSERT_EQ(e.kind(), ErrorKind::kConfigParse) << e.what();
      EXPECT_EQ(e.where().file, "/etc/ssh/sshd_config");
      EXPECT_GT(e.where().line, 0) << e.what();
      ++refused;
      continue;
    }
    ++parsed;
    // A line sshd itself would reject can still stop the plan (e.g. a vendor rule); that is
    // an Error, never a crash.
    try {
      tree.apply(config::plan_set(tree.model(), permit, {"yes"}));
    } catch (const Error& e) {
      continue;
    }
    const auto changes = tree.changes();
    if (changes.empty()) continue;
    ++edited;
    EXPECT_TRUE(
        config::same_values(*permit.keyword, config::resolve_global(tree.edited_model(), permit).values, {"yes"}));
    // What was rendered parses again and says the same.
    Root again(changes.front().after);
    host::FsHost second(again.dir.string());
    config::ConfigTree reread(second, SSHDCTL_LENSES);
    ASSERT_NO_THROW(reread.load()) << changes.front().after;
    EXPECT_EQ(config::resolve_global(reread.model(), permit).values, std::vector<std::string>{"yes"});
  }
  std::printf("fuzz: %d inputs, %d parsed (%d edited), %d refused with file:line\n", runs, parsed, edited, refused);
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace sshdctl

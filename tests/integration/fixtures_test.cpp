// root-login on configurations copied from real distributions' defaults, checked by a real
// sshd (-T -C user=root,...) through the fixtures' own verification script, which shares no
// code with sshdctl.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "support.h"

namespace sshdctl::testing {
namespace {

std::map<std::string, std::string> sshd_says(const fs::path& roots, const std::string& name,
                                             const std::string& addr = "192.0.2.1") {
  const CommandRun r = run("FIXTURE_ROOTS=" + quote(roots.string()) + " VERIFY_ADDR=" + addr + " bash " +
                           SSHDCTL_FIXTURES + "/verify-with-sshd.sh " + quote(name));
  EXPECT_EQ(r.code, 0) << r.out;
  std::map<std::string, std::string> values;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto space = line.find(' ');
    if (space != std::string::npos && line.rfind("==", 0) != 0) values[line.substr(0, space)] = line.substr(space + 1);
  }
  return values;
}

std::map<std::string, std::string> expected(const std::string& name) {
  std::map<std::string, std::string> values;
  std::istringstream lines(read(fs::path(SSHDCTL_FIXTURES) / name / "expected.txt"));
  std::string line;
  while (std::getline(lines, line))
    if (const auto space = line.find(' '); space != std::string::npos)
      values[line.substr(0, space)] = line.substr(space + 1);
  return values;
}

// Lines that appear in one text and not the other (as multisets).
std::vector<std::string> changed_lines(const std::string& a, const std::string& b) {
  std::multiset<std::string> left;
  std::istringstream sa(a), sb(b);
  std::string line;
  while (std::getline(sa, line)) left.insert(line);
  std::vector<std::string> added;
  while (std::getline(sb, line)) {
    if (auto it = left.find(line); it != left.end())
      left.erase(it);
    else
      added.push_back(line);
  }
  added.insert(added.end(), left.begin(), left.end());
  return added;
}

std::map<std::string, std::string> tree_contents(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && fs::relative(e.path(), root).string().rfind("var/lib/sshdctl/", 0) != 0)
      out[fs::relative(e.path(), root).string()] = read(e.path());  // the journal is checked elsewhere
  return out;
}

class RootLoginOnFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(RootLoginOnFixture, EnableMakesSshdAllowRootAndDisableForbidsItAgain) {
  const std::string name = GetParam();
  TempDir tmp;
  const fs::path root = tmp.path / name;
  copy_fixture(name, root);
  const auto original = tree_contents(root);
  const auto before = expected(name);

  const CommandRun enable = sshdctl("--root " + quote(root.string()) + " root-login enable");
  const bool already = before.at("permitrootlogin") == "yes" && before.at("passwordauthentication") == "yes";
  EXPECT_EQ(enable.code, already ? 3 : 0) << enable.out;
  auto now = sshd_says(tmp.path, name);
  EXPECT_EQ(now["permitrootlogin"], "yes") << enable.out;
  EXPECT_EQ(now["passwordauthentication"], "yes") << enable.out;

  // Only the lines that carry the two settings (or the root block) changed.
  const std::regex relevant("^\\s*((permitrootlogin|passwordauthentication|match user root)\\b.*)?", std::regex::icase);
  const auto edited = tree_contents(root);
  for (const auto& [file, content] : edited) {
    const auto old = original.count(file) ? original.at(file) : std::string();
    for (const auto& line : changed_lines(old, content))
      EXPECT_TRUE(std::regex_match(line, relevant)) << file << ": unexpected change: " << line;
  }

  const CommandRun again = sshdctl("--root " + quote(root.string()) + " root-login enable");
  EXPECT_EQ(again.code, 3) << again.out;

  const CommandRun disable = sshdctl("--root " + quote(root.string()) + " root-login disable");
  EXPECT_EQ(disable.code, 0) << disable.out;
  now = sshd_says(tmp.path, name);
  EXPECT_EQ(now["permitrootlogin"], "no") << disable.out;
  EXPECT_EQ(now["passwordauthentication"], before.at("passwordauthentication")) << disable.out;
  // Where root was refused from any address before, the round trip restores every byte.
  TempDir pristine;
  copy_fixture(name, pristine.path / name);
  if (before.at("permitrootlogin") == "no" && sshd_says(pristine.path, name, "10.1.2.3")["permitrootlogin"] == "no") {
    EXPECT_EQ(tree_contents(root), original) << "enable then disable must restore the original bytes";
  }
}

TEST_P(RootLoginOnFixture, KeyOnlyEnableSetsProhibitPasswordAndLeavesPasswordsAlone) {
  const std::string name = GetParam();
  TempDir tmp;
  const fs::path root = tmp.path / name;
  copy_fixture(name, root);
  const auto before = expected(name);
  const CommandRun enable = sshdctl("--root " + quote(root.string()) + " root-login enable --key-only");
  EXPECT_TRUE(enable.code == 0 || enable.code == 3) << enable.out;
  const auto now = sshd_says(tmp.path, name);
  // OpenSSH 9.2 prints prohibit-password under its old name.
  EXPECT_EQ(now.at("permitrootlogin"), "without-password") << enable.out;
  EXPECT_EQ(now.at("passwordauthentication"), before.at("passwordauthentication"));
}

TEST_P(RootLoginOnFixture, ShowAgreesWithSshdForRoot) {
  const std::string name = GetParam();
  TempDir tmp;
  const fs::path root = tmp.path / name;
  copy_fixture(name, root);
  const CommandRun show =
      sshdctl("--root " + quote(root.string()) +
              " show PermitRootLogin PasswordAuthentication X11Forwarding --user root --addr 192.0.2.1"
              " --compare");
  EXPECT_EQ(show.code, 0) << show.out;
  EXPECT_EQ(show.out.find("MISMATCH"), std::string::npos) << show.out;
}

INSTANTIATE_TEST_SUITE_P(Distributions, RootLoginOnFixture,
                         ::testing::Values("debian12-cloud", "ubuntu2404", "rocky9", "al2023", "opensuse", "alpine",
                                           "hostile-lowercase", "hostile-equals", "hostile-trailing-match",
                                           "hostile-match-all", "hostile-dropin-override"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace sshdctl::testing

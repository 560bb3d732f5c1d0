// The sshdctl binary against offline roots: bad input is refused with a clear error and
// changes nothing; good input edits exactly what it should and keeps the file's layout.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "sshdctl/accounts/password.h"
#include "support.h"

namespace sshdctl::testing {
namespace {

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { use("debian12-cloud"); }
  void use(const std::string& fixture) {
    root_ = tmp_.path / fixture;
    copy_fixture(fixture, root_);
  }
  CommandRun in_root(const std::string& args) { return sshdctl("--root " + quote(root_.string()) + " " + args); }
  // A 0600 file holding `secret` (and a newline), for the --*-file options.
  std::string write_secret(const std::string& secret) {
    const auto path = tmp_.path / ("secret" + std::to_string(++secrets_));
    write(path, secret + "\n");
    ::chmod(path.c_str(), 0600);
    return path.string();
  }
  std::string config(const std::string& file = "etc/ssh/sshd_config") { return read(root_ / file); }
  // `args` is a change sshd -T refuses for `said`: exit 4, sshd's words shown, the file as it was.
  void expect_rejected(const std::string& args, const std::string& said) {
    const auto before = config();
    const auto r = in_root(args);
    EXPECT_EQ(r.code, 4) << r.out;
    EXPECT_NE(r.out.find("sshd -T rejected the new configuration"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(said), std::string::npos) << r.out;
    EXPECT_EQ(config(), before);
  }

  TempDir tmp_;
  fs::path root_;
  int secrets_ = 0;
};

TEST(CliFront, VersionNamesTheBuildAndWhatItWasBuiltWith) {
  const auto r = sshdctl("--version");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("sshdctl 0.", 0), 0U) << r.out;
  EXPECT_NE(r.out.find("built with libssh "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Augeas "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tested against OpenSSH_"), std::string::npos) << r.out;
}

TEST(CliFront, AnUnknownVerbIsNamedWithTheClosestVerbsAndChangesNothing) {
  auto r = sshdctl("--root /nonexistent sett PermitRootLogin yes");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("'sett' is not a verb (did you mean 'set'?)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verbs: show, set, unset, root-login"), std::string::npos) << r.out;
  r = sshdctl("frobnicate");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("'frobnicate' is not a verb\nverbs: "), std::string::npos) << r.out;
  EXPECT_EQ(sshdctl("").code, 2);  // no verb at all: CLI11's own words
}

TEST_F(Cli, AnUnknownOptionIsNamedWithTheClosestOptionsAndChangesNothing) {
  const auto before = config();
  auto r = in_root("set --mach 'User guest' X11Forwarding no");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown option '--mach' (did you mean '--batch' or '--match'?)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sshdctl set --help for the verb's own"), std::string::npos) << r.out;
  r = in_root("--dry-rn set X11Forwarding no");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown option '--dry-rn' (did you mean '--dry-run'?)"), std::string::npos) << r.out;
  r = in_root("show --zzzzzzzz");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown option '--zzzzzzzz'\n"), std::string::npos) << r.out;
  EXPECT_EQ(config(), before);
}

TEST(CliFront, ListKeywordsGivesTheCatalogWithTheFixedValues) {
  const auto r = sshdctl("--list-keywords");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\nPermitRootLogin yes prohibit-password"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nX11Forwarding yes no\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("AcceptEnv\n", 0), 0U) << r.out;
}

TEST_F(Cli, UnknownKeywordIsRefusedWithTheClosestOne) {
  const auto before = config();
  const auto r = in_root("set PermitRootLogn yes");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown keyword 'PermitRootLogn'; did you mean 'PermitRootLogin'?"), std::string::npos)
      << r.out;
  EXPECT_EQ(config(), before);
}

TEST_F(Cli, InvalidValueIsRefusedWithTheAllowedValues) {
  const auto r = in_root("set PermitRootLogin maybe");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("allowed: yes, prohibit-password, without-password, forced-commands-only, no"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(in_root("set Port 70000").code, 2);
  EXPECT_EQ(in_root("set PasswordAuthentication true").code, 2);
}

TEST_F(Cli, MalformedMatchConditionsAndGlobalOnlyKeywordsAreRefused) {
  EXPECT_EQ(in_root("set X11Forwarding no --match 'Usr root'").code, 2);
  EXPECT_EQ(in_root("set X11Forwarding no --match 'User'").code, 2);
  const auto r = in_root("set Port 2222 --match 'User root'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("not allowed inside a Match block"), std::string::npos) << r.out;
}

TEST_F(Cli, UnparseableFileIsRefusedWithFileAndLineAndLeftAlone) {
  const std::string broken = config() + "PermitRootLogin\n";
  write(root_ / "etc/ssh/sshd_config", broken);
  const int line = static_cast<int>(std::count(broken.begin(), broken.end(), '\n'));
  const auto r = in_root("root-login enable");
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:" + std::to_string(line)), std::string::npos) << r.out;
  EXPECT_EQ(config(), broken);
}

// Found by fuzzing: these bytes loaded, and every edit then failed with an internal error.
TEST_F(Cli, AControlByteIsRefusedWithFileAndLineAndLeftAlone) {
  const std::string odd = "PasswordAuthentication no\nBanner /etc/issue\x01.net\n";
  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf", odd);
  const auto r = in_root("set X11Forwarding no");
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config.d/50-cloud-init.conf:2: the line holds the control byte 0x01"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(read(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf"), odd);
  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication no\r\n\tUsePAM yes\f\n");
  EXPECT_EQ(in_root("set X11Forwarding no").code, 0) << "CR, tab and form feed are no bytes to refuse";
}

TEST_F(Cli, ConfigurationSshdRejectsIsNeverWritten) {
  const auto before = config();
  const auto r = in_root("set Ciphers nosuchcipher");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("sshd -T rejected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nosuchcipher"), std::string::npos) << "sshd's own message is shown: " << r.out;
  EXPECT_EQ(config(), before);
}

// sshd -t reads Match blocks without a connection; every login reads them again with its own,
// and this one then fails ("any" must appear alone: the first block's publickey came before).
// sshd -t passes it; the check (sshd -T -C) refuses it, and nothing is written.
TEST_F(Cli, AChangeThatOnlyTheReReadOfEveryLoginRefusesIsNeverWritten) {
  write(root_ / "etc/ssh/sshd_config", config() + "Match Address *\n  AuthenticationMethods publickey\n");
  expect_rejected("set AuthenticationMethods any --match \"Address *,192.0.2.0/24\"",
                  "\"any\" must appear alone in AuthenticationMethods");
}

// The same for root's logins only: the first check connection meets no Match block, so a
// tree whose re-read fails only inside `Match Group root` passes it; the check for root
// (kRootCheckConnection) refuses it, and nothing is written.
TEST_F(Cli, AChangeThatOnlyRootsLoginsWouldRefuseIsNeverWritten) {
  write(root_ / "etc/ssh/sshd_config", config() + "Match Group root\n  AuthenticationMethods publickey\n");
  expect_rejected("set AuthenticationMethods any --match \"User root\"",
                  "\"any\" must appear alone in AuthenticationMethods");
  // sshd's re-read refuses the "any" for root even in a block for another user, once root's
  // block gave a method: refused too. A value root's re-read accepts is written.
  expect_rejected("set AuthenticationMethods any --match \"User alice\"", "\"any\" must appear alone");
  EXPECT_EQ(in_root("set AuthenticationMethods password --match \"User alice\"").code, 0);
}

TEST_F(Cli, AConfigurationAlreadyRefusedBySshdIsNotBlamedOnTheChange) {
  write(root_ / "etc/ssh/sshd_config", config() + "Port 22 23\n");
  const auto before = config();
  const auto r = in_root("set X11Forwarding no");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("sshd -T already rejects the current configuration, before this change"), std::string::npos)
      << r.out;
  // at the line sshd names, the one just added
  const auto line = std::count(before.begin(), before.end(), '\n');
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:" + std::to_string(line) + ": sshd -T already"), std::string::npos)
      << r.out;
  EXPECT_EQ(config(), before);
}

// A file named by two Include lines: a set of an accumulating keyword there is refused at its
// line (the new value would count twice), nothing written; and when sshd refuses the tree
// already, that is what is said, at sshd's line, not the plan's reason.
TEST_F(Cli, ALineSshdReadsTwiceIsNotEditedAndSshdsOwnRefusalComesFirst) {
  write(root_ / "etc/ssh/twice.conf", "AcceptEnv LANG\n");
  write(root_ / "etc/ssh/sshd_config", config() + "Include /etc/ssh/twice.conf\nInclude /etc/ssh/twice.conf\n");
  const auto before = config();
  auto r = in_root("set AcceptEnv TZ");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/twice.conf:1: 'AcceptEnv LANG' is read by sshd 2 times"), std::string::npos) << r.out;
  EXPECT_EQ(config(), before);
  EXPECT_EQ(config("etc/ssh/twice.conf"), "AcceptEnv LANG\n");
  write(root_ / "etc/ssh/sshd_config", before + "Port 22 23\n");
  r = in_root("set AcceptEnv TZ");
  EXPECT_EQ(r.code, 4) << r.out;
  const auto line = std::count(before.begin(), before.end(), '\n') + 1;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:" + std::to_string(line) + ": sshd -T already rejects"), std::string::npos)
      << r.out;
  EXPECT_EQ(config("etc/ssh/twice.conf"), "AcceptEnv LANG\n");
}

// An offline root without an sshd of its own is checked with this machine's sshd, but with the
// root's own host keys: its 2048-bit RSA key is too short for RequiredRSASize 3072, so the
// root's sshd would not start; the check says so and nothing is written. Whether the key is
// named by a HostKey line or found at sshd's default path.
TEST_F(Cli, AnOfflineRootIsCheckedWithItsOwnHostKeys) {
  const auto key = root_ / "etc/ssh/ssh_host_rsa_key";
  ASSERT_EQ(run("ssh-keygen -q -t rsa -b 2048 -N '' -C test -f " + quote(key.string())).code, 0);
  expect_rejected("set RequiredRSASize 3072", "Invalid key length");
  write(root_ / "etc/ssh/sshd_config", "HostKey \"/etc/ssh/ssh_host_rsa_key\" # the root's\n" + config());
  expect_rejected("set RequiredRSASize 3072", "Invalid key length");
  const auto r = in_root("set RequiredRSASize 2048");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("none of the host keys"), std::string::npos) << r.out;
}

// A root without host keys (an image whose keys are made at first boot) is checked with one
// key sshd can load, and the report says so.
TEST_F(Cli, AnOfflineRootWithoutHostKeysIsCheckedWithAKeyOfThisMachine) {
  const auto r = in_root("set RequiredRSASize 3072");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("has none of the host keys its sshd would load: checked with"), std::string::npos) << r.out;
}

TEST_F(Cli, ParseErrorsQuoteTheLine) {
  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication no\nPermitRootLogin\n");
  const auto r = in_root("show");
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config.d/50-cloud-init.conf:2: cannot parse 'PermitRootLogin'"),
            std::string::npos)
      << r.out;
}

// A tree sshdctl's parser refuses, where sshd stops earlier in its reading: a change names
// sshd's file and line (exit 4), found by following the Include lines sshdctl could not parse
// to, and writes nothing; where both stop at the same line, the parser's quoting reason stays.
TEST_F(Cli, WhereSshdStopsBeforeTheParserSshdsLineComesFirst) {
  const auto before = config();
  const auto lines = std::count(before.begin(), before.end(), '\n');
  write(root_ / "etc/ssh/late.conf", "PermitRootLogin\n");
  write(root_ / "etc/ssh/sshd_config", before + "Port 22 23\nInclude /etc/ssh/late.conf\n");
  auto r = in_root("set ClientAliveCountMax 17");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:" + std::to_string(lines + 1) + ": sshd -T already rejects"),
            std::string::npos)
      << r.out;
  // The parser stops in sshd_config, before it reads early.conf, where sshd stops first.
  write(root_ / "etc/ssh/early.conf", "Port 22 23\n");
  write(root_ / "etc/ssh/sshd_config", before + "Include /etc/ssh/early.conf\nPermitRootLogin\n");
  r = in_root("set ClientAliveCountMax 17");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/early.conf:1: sshd -T already rejects"), std::string::npos) << r.out;
  EXPECT_EQ(config(), before + "Include /etc/ssh/early.conf\nPermitRootLogin\n");
  // Both stop at the same line: exit 5, the line quoted.
  write(root_ / "etc/ssh/sshd_config", before + "PermitRootLogin\n");
  r = in_root("set ClientAliveCountMax 17");
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:" + std::to_string(lines + 1) + ": cannot parse 'PermitRootLogin'"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(config(), before + "PermitRootLogin\n");
}

// A tree whose re-read fails only for connections a Match block meets (here RDomain rd2, which
// neither standard check connection has): checked for a connection of that block, and refused
// at the line sshd names, nothing written.
TEST_F(Cli, ATreeRefusedOnlyInsideAMatchBlockIsRefused) {
  const auto before = config();
  const auto lines = std::count(before.begin(), before.end(), '\n');
  const std::string broken =
      before + "Match RDomain rd2\n  AuthenticationMethods publickey\n  AuthenticationMethods any\n";
  write(root_ / "etc/ssh/sshd_config", broken);
  const auto r = in_root("set ClientAliveCountMax 17");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:" + std::to_string(lines + 3) + ": sshd -T already rejects"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"any\" must appear alone"), std::string::npos) << r.out;
  EXPECT_EQ(config(), broken);
}

TEST_F(Cli, OfflineRootSymlinksAreNotFollowedOutOfTheRoot) {
  TempDir outside;
  fs::remove_all(root_ / "tmp");
  fs::create_directory_symlink(outside.path, root_ / "tmp");
  const auto r = in_root("set PermitRootLogin yes");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::is_empty(outside.path)) << "scratch space was made outside the root";
}

TEST_F(Cli, NothingToDoSaysUnchangedAndWritesNothing) {
  struct stat before {};
  ASSERT_EQ(::stat((root_ / "etc/ssh/sshd_config").c_str(), &before), 0);
  const auto r = in_root("set PermitRootLogin no");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("unchanged"), std::string::npos);
  struct stat after {};
  ASSERT_EQ(::stat((root_ / "etc/ssh/sshd_config").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the file was replaced";
}

TEST_F(Cli, DryRunPrintsTheDiffAndWritesNothing) {
  const auto before = config("etc/ssh/sshd_config.d/50-cloud-init.conf");
  const auto r = in_root("--dry-run set PasswordAuthentication yes");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("-PasswordAuthentication no\n+PasswordAuthentication yes"), std::string::npos) << r.out;
  EXPECT_EQ(config("etc/ssh/sshd_config.d/50-cloud-init.conf"), before);
}

TEST_F(Cli, GlobalSetEditsTheDropInThatWins) {
  const auto r = in_root("set PasswordAuthentication yes");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(config("etc/ssh/sshd_config.d/50-cloud-init.conf"), "PasswordAuthentication yes\n");
}

TEST_F(Cli, ReplacementKeepsModeAndOwner) {
  const auto path = root_ / "etc/ssh/sshd_config";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chown(path.c_str(), 1234, 4321), 0);
  EXPECT_EQ(in_root("set PermitRootLogin yes").code, 0);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  EXPECT_EQ(st.st_uid, 1234U);
  EXPECT_EQ(st.st_gid, 4321U);
}

TEST_F(Cli, ReplacementKeepsExtendedAttributes) {
  const auto path = root_ / "etc/ssh/sshd_config";
  const std::string label = "system_u:object_r:etc_t:s0";
  if (::setxattr(path.c_str(), "user.sshdctl.label", label.data(), label.size(), 0) != 0)
    GTEST_SKIP() << "this filesystem has no user extended attributes";
  EXPECT_EQ(in_root("set PermitRootLogin yes").code, 0);
  char value[64] = {};
  const ssize_t n = ::getxattr(path.c_str(), "user.sshdctl.label", value, sizeof value);
  ASSERT_GT(n, 0) << "the attribute was lost";
  EXPECT_EQ(std::string(value, static_cast<std::size_t>(n)), label);
}

// Include as sshd does it: relative patterns under /etc/ssh, lexical glob order, Include
// inside a Match block, nested includes, a pattern that matches nothing. sshd -T decides.
TEST_F(Cli, IncludeTreeResolvesLikeSshd) {
  TempDir t;
  const fs::path r = t.path;
  write(r / "etc/ssh/sshd_config",
        "Include conf.d/*.conf /etc/ssh/missing/*.conf\n"
        "PermitRootLogin yes\nX11Forwarding yes\nMaxAuthTries 6\n"
        "Match User admin\n  Include /etc/ssh/admin.conf\n");
  write(r / "etc/ssh/conf.d/20-b.conf", "X11Forwarding no\nMaxAuthTries 4\n");
  write(r / "etc/ssh/conf.d/10-a.conf", "Include /etc/ssh/nested.conf\nMaxAuthTries 3\n");
  write(r / "etc/ssh/nested.conf", "PermitRootLogin no\n");
  write(r / "etc/ssh/admin.conf", "X11Forwarding yes\nMatch Address 10.0.0.0/8\n  MaxAuthTries 9\n");
  const std::string keys = " show PermitRootLogin X11Forwarding MaxAuthTries --compare";
  for (const std::string who : {"", " --user root --addr 192.0.2.1", " --user admin --addr 192.0.2.1",
                                " --user admin --addr 10.1.1.1", " --user root --addr 10.1.1.1"}) {
    const auto out = sshdctl("--root " + quote(r.string()) + keys + who);
    EXPECT_EQ(out.code, 0) << who << "\n" << out.out;
    EXPECT_EQ(out.out.find("MISMATCH"), std::string::npos) << who << "\n" << out.out;
  }
  const auto global = sshdctl("--root " + quote(r.string()) + " show PermitRootLogin MaxAuthTries");
  EXPECT_NE(global.out.find("PermitRootLogin no    # /etc/ssh/nested.conf:1"), std::string::npos) << global.out;
  EXPECT_NE(global.out.find("MaxAuthTries 3    # /etc/ssh/conf.d/10-a.conf:2"), std::string::npos) << global.out;
  const auto admin = sshdctl("--root " + quote(r.string()) + " show MaxAuthTries --user admin --addr 10.1.1.1");
  EXPECT_NE(admin.out.find("MaxAuthTries 9    # /etc/ssh/admin.conf:3 (Match)"), std::string::npos) << admin.out;
}

TEST_F(Cli, SeparatorAndSpellingOfTheEditedLineAreKept) {
  use("hostile-equals");
  EXPECT_EQ(in_root("set PermitRootLogin prohibit-password").code, 0);
  EXPECT_NE(config().find("\nPermitRootLogin=prohibit-password\n"), std::string::npos) << config();
  use("hostile-lowercase");
  const auto r = in_root("set PermitRootLogin yes");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(config().find("\npermitrootlogin yes"), std::string::npos) << config();
}

// sshd keeps " # note" in the value of these keywords (tests/fixtures/differential/
// value-versionaddendum-104, value-authorizedkeyscommand-707): show says so, and a new value
// does not keep the old "comment", which sshd would read as part of it.
TEST_F(Cli, ARestOfLineValueKeepsItsHashAsSshdDoes) {
  write(root_ / "etc/ssh/sshd_config",
        config() +
            "VersionAddendum lab # note\r\nAuthorizedKeysCommand=/usr/bin/true %u #note\n"
            "AuthorizedKeysCommandUser nobody\n");
  const auto shown = in_root("show VersionAddendum AuthorizedKeysCommand");
  EXPECT_EQ(shown.code, 0) << shown.out;
  EXPECT_NE(shown.out.find("VersionAddendum lab # note    # /etc/ssh/sshd_config:"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("AuthorizedKeysCommand /usr/bin/true %u #note    # /etc/ssh/sshd_config:"),
            std::string::npos)
      << shown.out;
  const auto r = in_root("set VersionAddendum web1");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(config().find("\nVersionAddendum web1\n"), std::string::npos) << config();
  EXPECT_EQ(config().find("# note"), std::string::npos) << config();
  EXPECT_EQ(in_root("set VersionAddendum web1").code, 3) << "now unchanged";
}

// sshd takes such a value from after the blanks, one '=' and blanks, to the end of the line
// as written: a tab inside it stays a tab, and a value given as words is not the same value.
TEST_F(Cli, ARestOfLineValueKeepsItsTabsAsSshdDoes) {
  write(root_ / "etc/ssh/sshd_config", config() + "ForceCommand =  internal-sftp\t-l INFO\n");
  const auto shown = in_root("show ForceCommand");
  EXPECT_EQ(shown.code, 0) << shown.out;
  EXPECT_NE(shown.out.find("ForceCommand internal-sftp\t-l INFO    # /etc/ssh/sshd_config:"), std::string::npos)
      << shown.out;
  const auto r = in_root("set -- ForceCommand internal-sftp -l INFO");
  EXPECT_EQ(r.code, 0) << "a tab is not a space to sshd: " << r.out;
  EXPECT_NE(config().find("\nForceCommand =  internal-sftp -l INFO\n"), std::string::npos)
      << "layout kept: " << config();
  EXPECT_EQ(in_root("set -- ForceCommand internal-sftp -l INFO").code, 3) << "now unchanged";
}

// List keywords live in child nodes of the tree: replacing them, adding a new one, a
// trailing comment, and Subsystem's named child, through the real lens.
TEST_F(Cli, ListKeywordsAndSubsystemAreWrittenThroughTheLens) {
  EXPECT_EQ(in_root("set AcceptEnv LANG LC_ALL").code, 0);
  EXPECT_NE(config().find("\nAcceptEnv LANG LC_ALL\n"), std::string::npos) << config();
  EXPECT_EQ(in_root("set Ciphers aes256-gcm@openssh.com,aes128-ctr").code, 0);
  EXPECT_NE(config().find("\nCiphers aes256-gcm@openssh.com,aes128-ctr\n"), std::string::npos) << config();
  EXPECT_EQ(in_root("set Ciphers aes256-gcm@openssh.com,aes128-ctr").code, 3) << "the same list again is unchanged";
  EXPECT_EQ(in_root("set Subsystem sftp internal-sftp").code, 0);
  EXPECT_NE(config().find("\nSubsystem\tsftp\tinternal-sftp\n"), std::string::npos) << config();
  const auto show = in_root("show AcceptEnv Ciphers Subsystem sftp --user root --addr 192.0.2.1 --compare");
  EXPECT_EQ(show.code, 0) << show.out;
  EXPECT_EQ(show.out.find("MISMATCH"), std::string::npos) << show.out;

  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf", "AllowUsers alice bob # ops\n");
  EXPECT_EQ(in_root("set AllowUsers alice carol").code, 0);
  EXPECT_EQ(config("etc/ssh/sshd_config.d/50-cloud-init.conf"), "AllowUsers alice carol # ops\n");
}

TEST_F(Cli, SelfIncludingFileIsRefusedWithItsLine) {
  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "PasswordAuthentication no\nInclude /etc/ssh/sshd_config.d/*.conf\n");
  const auto r = in_root("show");
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config.d/50-cloud-init.conf:2: Include nested too deeply"), std::string::npos)
      << r.out;
}

// sshd reads depth first and stops at its first error: a self-include inside a Match block
// pulls the file's global-only lines into the block, and that line is what sshd names, before
// the nesting runs too deep (tests/fixtures/differential/refusal-location-tree-286).
TEST_F(Cli, SelfIncludeInsideMatchNamesTheLineTheBlockCannotHold) {
  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "HostKey /etc/ssh/ssh_host_ed25519_key\nMatch User bob\nInclude /etc/ssh/sshd_config.d/*.conf\n");
  const std::string before = config("etc/ssh/sshd_config.d/50-cloud-init.conf");
  const auto r = in_root("set PasswordAuthentication no");
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config.d/50-cloud-init.conf:1: Directive 'HostKey' is not allowed within a "
                       "Match block"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(config("etc/ssh/sshd_config.d/50-cloud-init.conf"), before);
  // Under Match all sshd's first reading keeps the block active: the nesting is the error.
  write(root_ / "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "HostKey /etc/ssh/ssh_host_ed25519_key\nMatch all\nInclude /etc/ssh/sshd_config.d/*.conf\n");
  const auto all = in_root("show");
  EXPECT_EQ(all.code, 5) << all.out;
  EXPECT_NE(all.out.find("50-cloud-init.conf:3: Include nested too deeply"), std::string::npos) << all.out;
}

TEST_F(Cli, MissingFinalNewlineStaysMissing) {
  use("hostile-trailing-match");
  ASSERT_NE(config().back(), '\n');
  EXPECT_EQ(in_root("set X11Forwarding no").code, 0);
  EXPECT_NE(config().back(), '\n');
}

TEST_F(Cli, MatchEditCreatesTheBlockOnceAndThenEditsIt) {
  const auto before = config();
  EXPECT_EQ(in_root("set X11Forwarding no --match 'User guest'").code, 0);
  EXPECT_EQ(config(), before + "Match User guest\n  X11Forwarding no\n");
  EXPECT_EQ(in_root("set X11Forwarding no --match 'User guest'").code, 3);
  EXPECT_EQ(in_root("set X11Forwarding yes --match 'user guest'").code, 0);
  EXPECT_EQ(config(), before + "Match User guest\n  X11Forwarding yes\n");
  EXPECT_EQ(in_root("unset X11Forwarding --match 'User guest'").code, 0);
  EXPECT_EQ(config(), before) << "removing the last setting removes the block";
}

TEST_F(Cli, UnsetRemovesTheLineAndTheDefaultApplies) {
  EXPECT_EQ(in_root("unset PermitRootLogin").code, 0);
  EXPECT_EQ(config().find("\nPermitRootLogin "), std::string::npos);
  const auto r = in_root("show PermitRootLogin");
  // The value sshd uses then, from sshd -T on the same tree, marked as its default.
  // (OpenSSH 9.2 spells its default without-password.)
  EXPECT_NE(r.out.find("PermitRootLogin without-password (sshd's default)\n"), std::string::npos) << r.out;
  const auto j = in_root("--json show PermitRootLogin");
  EXPECT_NE(j.out.find("\"default\":true"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"sshd\":\"without-password\""), std::string::npos) << j.out;
  EXPECT_EQ(in_root("unset PermitRootLogin").code, 3);
}

TEST_F(Cli, LinesThatLoseAreReported) {
  use("hostile-dropin-override");
  const auto r = in_root("set PermitRootLogin no");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config:6: 'PermitRootLogin yes' has no effect"), std::string::npos) << r.out;
}

TEST_F(Cli, VendorFileIsOverriddenFromEtc) {
  use("opensuse");
  const auto vendor = config("usr/etc/ssh/sshd_config");
  const auto r = in_root("set PermitRootLogin no");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(config("usr/etc/ssh/sshd_config"), vendor);
  EXPECT_EQ(config("etc/ssh/sshd_config.d/00-sshdctl.conf"), "PermitRootLogin no\n");
  const auto show = in_root("show PermitRootLogin --user root --addr 192.0.2.1 --compare");
  EXPECT_NE(show.out.find("sshd -T: no"), std::string::npos) << show.out;
}

TEST_F(Cli, MissingConfigurationIsAClearError) {
  TempDir empty;
  const auto r = sshdctl("--root " + quote(empty.path.string()) + " show");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("no sshd configuration"), std::string::npos) << r.out;
}

TEST_F(Cli, JsonOutputCarriesStatusAndErrors) {
  const auto ok = in_root("--json set PermitRootLogin yes");
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.out.rfind("{\"host\":", 0), 0U) << ok.out;
  EXPECT_NE(ok.out.find("\"status\":\"changed\""), std::string::npos);
  const auto bad = in_root("--json set PermitRootLogin maybe");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("\"status\":\"error\",\"kind\":\"bad-input\""), std::string::npos) << bad.out;
}

class RootPassword : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write(root_ / "etc/shadow", "root:*:19000:0:99999:7:::\necs-user:!:19000:0:99999:7:::\n");
    ::chmod((root_ / "etc/shadow").c_str(), 0640);
    write(root_ / "etc/login.defs", "ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 6000\n");
  }
  std::string root_hash() { return accounts::shadow_field(read(root_ / "etc/shadow"), "root").value_or(""); }
};

TEST_F(RootPassword, IsHashedAsLoginDefsSaysAndNeverShown) {
  const auto r = sshdctl("--root " + quote(root_.string()) + " --json root-login enable --password-file " +
                         quote(write_secret("Rescue-pw-1")));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto hash = root_hash();
  EXPECT_EQ(hash.rfind("$6$rounds=6000$", 0), 0U) << hash;
  EXPECT_TRUE(accounts::password_matches("Rescue-pw-1", hash));
  EXPECT_NE(read(root_ / "etc/shadow").find("\necs-user:!:19000:0:99999:7:::\n"), std::string::npos)
      << "other lines are kept";
  EXPECT_EQ(fs::status(root_ / "etc/shadow").permissions() & fs::perms::all, fs::perms(0640)) << "mode kept";
  EXPECT_NE(r.out.find("root's password hash changed (SHA-512, as login.defs says)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(hash), std::string::npos) << "the hash is never shown";
  EXPECT_EQ(r.out.find("Rescue-pw-1"), std::string::npos) << "the password is never shown";

  const auto again = sshdctl("--root " + quote(root_.string()) + " root-login enable --password-file " +
                             quote(write_secret("Rescue-pw-1")));
  EXPECT_EQ(again.code, 3) << "the same password again changes nothing: " << again.out;
  EXPECT_EQ(root_hash(), hash);
}

TEST_F(RootPassword, BadSecretsAreRefusedAndNothingIsWritten) {
  const auto shadow = read(root_ / "etc/shadow");
  const auto config_before = config();
  const std::string in_root_args = "--root " + quote(root_.string()) + " ";
  const auto empty = sshdctl(in_root_args + "root-login enable --password-file " + quote(write_secret("")));
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.out.find("the new root password is empty"), std::string::npos) << empty.out;
  ASSERT_EQ(std::getenv("SSHDCTL_NO_SUCH_VAR"), nullptr);
  const auto unset = sshdctl(in_root_args + "root-login enable --password-env SSHDCTL_NO_SUCH_VAR");
  EXPECT_EQ(unset.code, 2);
  EXPECT_NE(unset.out.find("SSHDCTL_NO_SUCH_VAR (for the new root password) is not set"), std::string::npos)
      << unset.out;
  const auto two = sshdctl(in_root_args + "root-login enable --password-stdin --pass-stdin < /dev/null");
  EXPECT_EQ(two.code, 2);
  EXPECT_NE(two.out.find("only one thing can come from stdin"), std::string::npos) << two.out;
  const auto key_only =
      sshdctl(in_root_args + "root-login enable --key-only --password-file " + quote(write_secret("x")));
  EXPECT_EQ(key_only.code, 2);
  const auto no_host = sshdctl(in_root_args + "--pass-file " + quote(write_secret("x")) + " show UsePAM");
  EXPECT_EQ(no_host.code, 2);
  EXPECT_NE(no_host.out.find("login passwords and --jump are for --host"), std::string::npos) << no_host.out;
  EXPECT_EQ(read(root_ / "etc/shadow"), shadow);
  EXPECT_EQ(config(), config_before);
}

TEST_F(RootPassword, ALockedRootWithoutAPasswordIsPointedOut) {
  const auto r = sshdctl("--root " + quote(root_.string()) + " root-login enable");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("root has no usable password"), std::string::npos) << r.out;
  EXPECT_EQ(root_hash(), "*") << "the shadow file is not touched without a password";
}

// Account verbs on an offline root: keys where sshd looks for them, passwords, stored logins.
class Accounts : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write(root_ / "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\n");
    write(root_ / "etc/group", "root:x:0:\nalice:x:1001:\n");
    write(root_ / "etc/shadow", "root:*:19000:0:99999:7:::\nalice:!$6$abc$def:19000:0:99999:7::19001:\n");
    write(root_ / "etc/login.defs", "ENCRYPT_METHOD YESCRYPT\n");
    fs::create_directories(root_ / "home/alice");
    ASSERT_EQ(::chown((root_ / "home/alice").c_str(), 1001, 1001), 0);
    write(tmp_.path / "ed.pub", kEd + "\n");
    write(tmp_.path / "ec.pub", kEc + "\n");
  }
  fs::path keys() { return root_ / "home/alice/.ssh/authorized_keys"; }
  static inline const std::string kEd =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqW3VfFYFLEy68cY+L7913UyM0GxFtg4vJuv5joGIO+ alice@laptop";
  static inline const std::string kEc =
      "ecdsa-sha2-nistp256 "
      "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAXtFaNRvHy8KfH5abVxt1vBEAWUwc/"
      "a0tlBzuTRzQ+D4iXNfFymRX32uliL+6avI07XbUpG+3vrAT9PMCiOAlQ= p256";
};

// Found by fuzzing (tests/fuzz/corpus/authorized_keys_lens/finding-1-*): such a file loaded and
// every edit of it then failed with an internal error.
TEST_F(Accounts, AnAuthorizedKeysFileWithAControlByteIsRefusedAndLeftAlone) {
  fs::create_directories(keys().parent_path());
  const std::string odd = kEc + "\n" + kEd.substr(0, 20) + "\x04" + kEd.substr(20) + "\n";
  write(keys(), odd);
  const auto r = in_root("key add alice --pubkey " + quote((tmp_.path / "ed.pub").string()));
  EXPECT_EQ(r.code, 5) << r.out;
  EXPECT_NE(r.out.find("/home/alice/.ssh/authorized_keys:2: the line holds the control byte 0x04"), std::string::npos)
      << r.out;
  EXPECT_EQ(read(keys()), odd);
}

TEST_F(Accounts, KeyAddCreatesTheFileSshdReadsWithTheRightOwnerAndModes) {
  const auto r = in_root("key add alice --pubkey " + quote((tmp_.path / "ed.pub").string()) +
                         " --options 'from=\"192.0.2.0/24\",no-pty'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read(keys()), "from=\"192.0.2.0/24\",no-pty " + kEd + "\n");
  struct stat dir {
  }, file{};
  ASSERT_EQ(::stat((root_ / "home/alice/.ssh").c_str(), &dir), 0);
  ASSERT_EQ(::stat(keys().c_str(), &file), 0);
  EXPECT_EQ(dir.st_mode & 07777, 0700U);
  EXPECT_EQ(file.st_mode & 07777, 0600U);
  EXPECT_EQ(dir.st_uid, 1001U);
  EXPECT_EQ(file.st_uid, 1001U);
  EXPECT_EQ(file.st_gid, 1001U);
  EXPECT_EQ(in_root("key add alice --pubkey " + quote((tmp_.path / "ed.pub").string()) +
                    " --options 'from=\"192.0.2.0/24\",no-pty'")
                .code,
            3)
      << "the same key twice is unchanged";
  const auto list = in_root("key list alice");
  EXPECT_NE(list.out.find("/home/alice/.ssh/authorized_keys:1: from=\"192.0.2.0/24\",no-pty ssh-ed25519 SHA256:"),
            std::string::npos)
      << list.out;
  const auto json = in_root("--json key list alice");
  EXPECT_NE(json.out.find("\"options\":\"from=\\\"192.0.2.0/24\\\",no-pty\""), std::string::npos) << json.out;
}

TEST_F(Accounts, KeysGoWhereTheEffectiveAuthorizedKeysFileSays) {
  ASSERT_EQ(in_root("set AuthorizedKeysFile /etc/ssh/keys/%u --match 'User alice'").code, 0);
  fs::create_directories(root_ / "etc/ssh/keys");
  const auto r = in_root("key add alice --pubkey " + quote((tmp_.path / "ec.pub").string()));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read(root_ / "etc/ssh/keys/alice"), kEc + "\n");
  EXPECT_FALSE(fs::exists(keys()));
  EXPECT_NE(in_root("key list alice").out.find("/etc/ssh/keys/alice:1: ecdsa-sha2-nistp256"), std::string::npos);
}

TEST_F(Accounts, RemoveAndPruneTakeOnlyTheKeysAsked) {
  const std::string expired = "expiry-time=\"20200101Z\" " + kEc;
  fs::create_directories(root_ / "home/alice/.ssh");
  write(keys(), "# mine\n" + kEd + "\n" + expired + "\n");
  const auto pruned = in_root("key prune alice");
  ASSERT_EQ(pruned.code, 0) << pruned.out;
  EXPECT_EQ(read(keys()), "# mine\n" + kEd + "\n");
  EXPECT_EQ(in_root("key remove alice --comment nobody@nowhere").code, 3);
  const auto removed = in_root("key remove alice --pubkey " + quote((tmp_.path / "ed.pub").string()));
  ASSERT_EQ(removed.code, 0) << removed.out;
  EXPECT_EQ(read(keys()), "# mine\n") << "comments stay";
}

TEST_F(Accounts, KeysSshdWouldIgnoreAreRefusedAndNothingIsWritten) {
  fs::create_directories(root_ / "home/alice/.ssh");
  write(keys(), kEc + "\n");
  ::chmod(keys().c_str(), 0666);
  const auto before = read(keys());
  const auto loose = in_root("key add alice --pubkey " + quote((tmp_.path / "ed.pub").string()));
  EXPECT_EQ(loose.code, 1);
  EXPECT_NE(loose.out.find("StrictModes"), std::string::npos) << loose.out;
  EXPECT_EQ(read(keys()), before);
  const auto fixed = in_root("key add alice --fix-perms --pubkey " + quote((tmp_.path / "ed.pub").string()));
  ASSERT_EQ(fixed.code, 0) << fixed.out;
  struct stat st {};
  ::stat(keys().c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0600U);

  ASSERT_EQ(::chown(keys().c_str(), 1002, 1002), 0);
  const auto foreign = in_root("key add alice --pubkey " + quote((tmp_.path / "ed.pub").string()));
  EXPECT_EQ(foreign.code, 1);
  EXPECT_NE(foreign.out.find("is owned by uid 1002, not by alice or root"), std::string::npos) << foreign.out;

  fs::remove(keys());
  fs::create_symlink("/etc/shadow", keys());
  const auto link = in_root("key add alice --pubkey " + quote((tmp_.path / "ed.pub").string()));
  EXPECT_NE(link.code, 0);
  EXPECT_NE(link.out.find("symbolic link"), std::string::npos) << link.out;
  EXPECT_TRUE(fs::is_symlink(keys()));

  EXPECT_EQ(in_root("key add bob --pubkey " + quote((tmp_.path / "ed.pub").string())).code, 2);
  write(tmp_.path / "bad.pub", "ssh-ed25519 AAAAnotakey bad\n");
  const auto bad = in_root("key add alice --pubkey " + quote((tmp_.path / "bad.pub").string()));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("not a valid ssh-ed25519 key"), std::string::npos) << bad.out;
  write(tmp_.path / "dsa.pub", "ssh-dss AAAAB3NzaC1kc3MAAAAgj3nBkDpNlw9/kRKm1Yq/QgZNTKv9EpY3WCXebmWyCRI= old\n");
  EXPECT_NE(in_root("key add alice --pubkey " + quote((tmp_.path / "dsa.pub").string())).out.find("ssh-dss"),
            std::string::npos);
}

TEST_F(Accounts, PasswdHashesUnlocksAndNeverShowsTheHash) {
  write(tmp_.path / "pw", "Alice-pw-7\n");
  const auto r = in_root("--json passwd alice --file " + quote((tmp_.path / "pw").string()) + " --unlock");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto hash = accounts::shadow_field(read(root_ / "etc/shadow"), "alice").value_or("");
  EXPECT_EQ(hash.rfind("$y$", 0), 0U) << "yescrypt, as login.defs says: " << hash;
  EXPECT_TRUE(accounts::password_matches("Alice-pw-7", hash));
  EXPECT_EQ(read(root_ / "etc/shadow").find(":19001:"), std::string::npos) << "the expiry that passed is cleared";
  EXPECT_EQ(r.out.find(hash), std::string::npos);
  EXPECT_EQ(r.out.find("Alice-pw-7"), std::string::npos);
  EXPECT_NE(r.out.find("alice's password hash changed (yescrypt, as login.defs says)"), std::string::npos) << r.out;
  EXPECT_EQ(in_root("passwd alice").code, 2) << "nothing to do";
}

TEST_F(Accounts, KeyRemoveByFingerprintTakesOnlyThatKey) {
  fs::create_directories(root_ / "home/alice/.ssh");
  write(keys(), kEd + "\n" + kEc + "\n");
  const auto listed = in_root("--json key list alice");
  const auto at = listed.out.find("\"fingerprint\":\"SHA256:");
  ASSERT_NE(at, std::string::npos) << listed.out;
  const auto start = at + std::string("\"fingerprint\":\"").size();
  const std::string fingerprint = listed.out.substr(start, listed.out.find('"', start) - start);
  const auto removed = in_root("key remove alice --fingerprint " + quote(fingerprint));
  ASSERT_EQ(removed.code, 0) << removed.out;
  EXPECT_EQ(read(keys()), kEc + "\n");
  EXPECT_EQ(in_root("key remove alice").code, 2) << "which key must be said";
}

TEST_F(Accounts, CredentialStoreCommandsKeepSecretsAndRefuseAWrongPassphrase) {
  const std::string store = (tmp_.path / "store/credentials").string();
  write(tmp_.path / "pass", "store-passphrase\n");
  write(tmp_.path / "wrong", "not-it\n");
  write(tmp_.path / "pw", "Stored-pw-9\n");
  ::chmod((tmp_.path / "pass").c_str(), 0600);
  const std::string with = "--store " + quote(store) + " --store-pass-file " + quote((tmp_.path / "pass").string());
  const auto added =
      sshdctl(with + " credential add web --user deploy --password-file " + quote((tmp_.path / "pw").string()));
  ASSERT_EQ(added.code, 0) << added.out;
  EXPECT_EQ(fs::status(store).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(read(store).find("Stored-pw-9"), std::string::npos) << "encrypted at rest";
  const auto listed = sshdctl(with + " credential list");
  EXPECT_NE(listed.out.find("web  deploy  password"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("Stored-pw-9"), std::string::npos);
  const auto bytes = read(store);
  const auto wrong = sshdctl("--store " + quote(store) + " --store-pass-file " + quote((tmp_.path / "wrong").string()) +
                             " credential remove web");
  EXPECT_EQ(wrong.code, 1) << wrong.out;
  EXPECT_NE(wrong.out.find("wrong passphrase"), std::string::npos) << wrong.out;
  EXPECT_EQ(read(store), bytes) << "a wrong passphrase changes nothing";
  EXPECT_EQ(sshdctl(with + " credential remove web").code, 0);
  EXPECT_EQ(sshdctl(with + " credential remove web").code, 3) << "already gone";
  EXPECT_EQ(sshdctl(with + " --credential web show UsePAM").code, 2) << "--credential is for --host";
}

TEST_F(Cli, HelpTeachesTheVerbsAndExitCodes) {
  const auto r = sshdctl("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* word :
       {"show", "set", "unset", "root-login", "--dry-run", "--root", "Exit codes", "unchanged", "--host", "--ask-pass",
        "--no-probe", "rolled back", "key", "tempkey", "passwd", "credential"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  EXPECT_EQ(sshdctl("frobnicate").code, 2);
}

// Policies on an offline root: plan writes nothing, apply makes audit pass, a second apply is
// unchanged, and audit names the line that decides each drifting value.
TEST_F(Cli, PolicyPlanApplyAndAudit) {
  const std::string baseline = std::string(SSHDCTL_EXAMPLES) + "/policies/baseline.yml";
  const auto before = config();
  const auto drift = in_root("audit --policy " + quote(baseline));
  EXPECT_EQ(drift.code, 9) << drift.out;
  EXPECT_NE(drift.out.find("X11Forwarding: want no, have yes (/etc/ssh/sshd_config:"), std::string::npos) << drift.out;
  EXPECT_NE(drift.out.find("MaxAuthTries: want 3, have 6 (sshd's default;"), std::string::npos) << drift.out;
  EXPECT_EQ(drift.out.find("PasswordAuthentication:"), std::string::npos) << "cloud-init's drop-in already says no";
  const auto json = in_root("--json audit --policy " + quote(baseline));
  EXPECT_NE(json.out.find("\"compliant\":false"), std::string::npos) << json.out;

  const auto plan = in_root("plan " + quote(baseline));
  EXPECT_EQ(plan.code, 0) << plan.out;
  EXPECT_NE(plan.out.find("+X11Forwarding no"), std::string::npos) << plan.out;
  EXPECT_EQ(config(), before) << "plan writes nothing";

  const auto apply = in_root("apply " + quote(baseline));
  ASSERT_EQ(apply.code, 0) << apply.out;
  const auto pass = in_root("audit --policy " + quote(baseline));
  EXPECT_EQ(pass.code, 0) << pass.out;
  EXPECT_NE(pass.out.find("compliant"), std::string::npos) << pass.out;
  EXPECT_EQ(in_root("apply " + quote(baseline)).code, 3) << "a second apply has nothing to do";

  const std::string bad = (tmp_.path / "bad.yml").string();
  write(bad, "sshd:\n  X11Forwarding: no\n  MaxAuthTries: many\n");
  const auto refused = in_root("apply " + quote(bad));
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_NE(refused.out.find("bad.yml:3: "), std::string::npos) << refused.out;
}

TEST_F(Accounts, PolicyKeysAndLockStatesInOneChange) {
  const std::string policy = (tmp_.path / "keys.yml").string();
  write(policy, "users:\n  alice:\n    keys:\n      present: ['" + kEd + "', '" + kEc +
                    "']\n    locked: true\nmatch:\n  - condition: User alice\n    sshd:\n"
                    "      PasswordAuthentication: 'no'\n      X11Forwarding: 'no'\n");
  const auto r = in_root("apply " + quote(policy));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read(keys()), kEd + "\n" + kEc + "\n");
  EXPECT_EQ(read(root_ / "etc/shadow").find("alice:!"), read(root_ / "etc/shadow").find("alice:")) << "locked";
  const auto sshd_config = read(root_ / "etc/ssh/sshd_config");
  EXPECT_NE(sshd_config.find("Match User alice\n"), std::string::npos) << sshd_config;
  EXPECT_EQ(sshd_config.find("Match User alice\n"), sshd_config.rfind("Match User alice\n")) << "one block";
  EXPECT_EQ(in_root("audit --policy " + quote(policy)).code, 0);
  // Rotation: one key out, the other stays; the lock is lifted.
  write(policy, "users:\n  alice:\n    keys:\n      absent: [{comment: p256}]\n    locked: false\n");
  EXPECT_EQ(in_root("audit --policy " + quote(policy)).code, 9);
  ASSERT_EQ(in_root("apply " + quote(policy)).code, 0);
  EXPECT_EQ(read(keys()), kEd + "\n");
  EXPECT_EQ(read(root_ / "etc/shadow").find("alice:!"), std::string::npos);
  EXPECT_EQ(in_root("apply " + quote(policy)).code, 3);
}

// The fleet runner without a lab: what is refused before a connection, per-host failures that
// do not stop the others, the canary, --json and --report. (The lab case: tests/e2e/fleet.sh.)
class Fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    // bob may not use sudo (ansible_become=false); nothing listens on 127.0.0.1:1.
    write(inventory(),
          "[lab]\nnoroot ansible_host=127.0.0.1 ansible_user=bob ansible_become=false\n"
          "closed ansible_host=127.0.0.1 ansible_port=1\n");
  }
  std::string inventory() const { return (tmp_.path / "hosts.ini").string(); }
  CommandRun fleet(const std::string& args) {
    return sshdctl("-i " + quote(inventory()) + " --known-hosts /dev/null --connect-timeout 2 " + args);
  }
  TempDir tmp_;
};

TEST_F(Fleet, FleetOptionsAndOneHostVerbsAreRefusedClearly) {
  const auto no_inventory = sshdctl("--report /tmp/x.jsonl show");
  EXPECT_EQ(no_inventory.code, 2) << no_inventory.out;
  EXPECT_NE(no_inventory.out.find("are for -i INVENTORY"), std::string::npos) << no_inventory.out;
  const auto both = fleet("--host web1 show");
  EXPECT_EQ(both.code, 2) << both.out;
  EXPECT_NE(both.out.find("-i (an inventory) excludes --host and --root"), std::string::npos) << both.out;
  const auto tempkey = fleet("tempkey root --ttl 1m");
  EXPECT_EQ(tempkey.code, 2) << tempkey.out;
  EXPECT_NE(tempkey.out.find("tempkey makes one key for one host"), std::string::npos) << tempkey.out;
  const auto limit = fleet("--limit nosuch show");
  EXPECT_EQ(limit.code, 2) << limit.out;
  EXPECT_NE(limit.out.find("nosuch"), std::string::npos) << limit.out;
  const auto batch = fleet("--batch lots set PermitRootLogin no");
  EXPECT_EQ(batch.code, 2) << batch.out;
  EXPECT_NE(batch.out.find("--batch takes a number of hosts or a percentage"), std::string::npos) << batch.out;
  const auto rollout = sshdctl("revert --rollout 20261125T000000000000Z-000000");
  EXPECT_EQ(rollout.code, 2) << rollout.out;
}

TEST_F(Fleet, EachHostFailsOnItsOwnAndIsReported) {
  const std::string report = (tmp_.path / "report.jsonl").string();
  const auto r = fleet("--json --report " + quote(report) + " set PermitRootLogin no");
  EXPECT_EQ(r.code, 7) << r.out;  // every host tried, some failed
  EXPECT_NE(r.out.find("\"failed\":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"aborted\":false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ansible_become is false and the login user is not root"), std::string::npos) << r.out;
  const auto lines = read(report);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2) << lines;
  EXPECT_NE(lines.find("\"host\":\"closed\",\"status\":\"failed\""), std::string::npos) << lines;
  EXPECT_NE(lines.find("refused"), std::string::npos) << lines;

  // A failed canary: the other host is not started, and the report says so.
  const auto canary = fleet("--canary 1 --report " + quote(report) + " set PermitRootLogin no");
  EXPECT_EQ(canary.code, 8) << canary.out;
  EXPECT_NE(canary.out.find("0 changed, 0 unchanged, 1 failed, 1 not started"), std::string::npos) << canary.out;
  EXPECT_NE(read(report).find("\"host\":\"closed\",\"status\":\"skipped\""), std::string::npos) << read(report);
}

}  // namespace
}  // namespace sshdctl::testing

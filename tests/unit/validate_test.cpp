#include "sshdctl/config/validate.h"

#include <gtest/gtest.h>

#include "model_builder.h"

namespace sshdctl::config {
namespace {

TEST(RewriteIncludes, PointsAbsoluteAndRelativePatternsIntoTheCopy) {
  const std::string in =
      "# Include /not/this\nInclude /etc/ssh/sshd_config.d/*.conf\n  include=extra.conf \"/etc/a b.conf\" # c\n"
      "Port 22";
  EXPECT_EQ(rewrite_includes(in, "/tmp/x"),
            "# Include /not/this\nInclude /tmp/x/etc/ssh/sshd_config.d/*.conf\n"
            "  Include /tmp/x/etc/ssh/extra.conf \"/tmp/x/etc/a b.conf\" # c\nPort 22");
}

TEST(RewriteIncludes, LeavesKeywordsThatOnlyStartWithIncludeAlone) {
  EXPECT_EQ(rewrite_includes("IncludeX foo\n", "/p"), "IncludeX foo\n");
}

TEST(RewriteHostKeys, PointsAbsoluteKeyPathsIntoTheCopyAndListsThem) {
  std::vector<std::string> paths;
  EXPECT_EQ(
      rewrite_host_keys("HostKey /etc/ssh/a\n\thostkey=\"/k b\" # c\nHostKey rel\nHostKeyAlgorithms x\n#HostKey /n",
                        "/s", &paths),
      "HostKey /s/etc/ssh/a\n\tHostKey \"/s/k b\" # c\nHostKey rel\nHostKeyAlgorithms x\n#HostKey /n");
  EXPECT_EQ(paths, (std::vector<std::string>{"/etc/ssh/a", "/k b"}));
}

// A connection for each Match block neither standard check connection meets, made from its
// criteria and kept only when it meets the block (tests/fixtures/differential/
// accepts-refused-tree-2687: the re-read failed only inside `Match RDomain rd2,rd1`).
TEST(BlockCheckConnections, MeetEachBlockTheStandardChecksMiss) {
  using testing::block;
  using testing::line;
  const Directive x = line(0, "X11Forwarding", {"no"});
  testing::Tree t;
  t.file("/etc/ssh/sshd_config", {},
         {block(1, {{"RDomain", "rd2,rd1"}}, {x}), block(2, {{"User", "root"}}, {x}),
          block(3, {{"User", "!root"}}, {x}), block(4, {{"Address", "\"!10.1.0.0/16,10.0.0.0/8\""}}, {x}),
          block(5, {{"Host", "*.example.com"}, {"LocalPort", "2222"}}, {x}),
          block(6, {{"Group", "!ssl-cert,*"}, {"RDomain", "rd3"}}, {x}), block(7, {{"Group", "wheel"}}, {x}),
          block(8, {{"Address", "10.*"}}, {x}), block(9, {{"all", ""}}, {x}),
          block(10, {{"User", "alice"}, {"Group", "adm"}}, {x}), block(11, {{"RDomain", "rd2"}}, {x})});
  const Model m = t.model();
  const std::string rest = ",laddr=192.0.2.2,lport=22,rdomain=";
  EXPECT_EQ(block_check_connections(m),
            (std::vector<std::string>{
                "user=sshdctl-check,host=check.invalid,addr=192.0.2.1" + rest + "rd2",
                "user=sshdctl-check,host=check.invalid,addr=10.0.0.0" + rest + "sshdctl-check",
                "user=sshdctl-check,host=x.example.com,addr=192.0.2.1,laddr=192.0.2.2,lport=2222,rdomain=sshdctl-check",
                "user=root,host=check.invalid,addr=192.0.2.1" + rest + "rd3"}));
  // An Include inside a Match: the inner block's criteria win over the outer's (tree 2543 of
  // seed 20261206: "Match User !www-data,*" around "Match Address 10.0.0.0/8 User nobody").
  testing::Tree nested;
  nested.file("/etc/ssh/sshd_config", {},
              {block(1, {{"User", "!www-data,*"}}, {line(2, "Include", {"/etc/ssh/in.conf"})})});
  nested.file("/etc/ssh/in.conf", {}, {block(1, {{"Address", "10.0.0.0/8"}, {"User", "nobody,daemon"}}, {x})});
  EXPECT_EQ(block_check_connections(nested.model()),
            std::vector<std::string>{"user=nobody,host=check.invalid,addr=10.0.0.0" + rest + "sshdctl-check"});
  // At most kMaxBlockChecks.
  testing::Tree many;
  std::vector<MatchBlock> blocks;
  for (int i = 0; i < 12; ++i) blocks.push_back(block(i + 1, {{"RDomain", "rd" + std::to_string(i)}}, {x}));
  many.file("/etc/ssh/sshd_config", {}, blocks);
  EXPECT_EQ(block_check_connections(many.model()).size(), kMaxBlockChecks);
}

// A CRLF file's HostKey path ends before the CR, as sshd reads it (else the key is looked for
// under a name with a CR and the check falls back to another key).
TEST(RewriteHostKeys, ACrlfLineKeepsItsCrButNotInThePath) {
  std::vector<std::string> paths;
  EXPECT_EQ(rewrite_host_keys("HostKey = /etc/ssh/k\r\nPort 22\r\n", "/c", &paths),
            "HostKey /c/etc/ssh/k\r\nPort 22\r\n");
  EXPECT_EQ(paths, (std::vector<std::string>{"/etc/ssh/k"}));
}

// A refusal names the file and line sshd names, in either of sshd's two spellings; words
// without one keep the fallback, at line 0.
TEST(SshdComplaintLocation, IsTheFirstFileAndLineSshdNames) {
  const auto a = sshd_complaint_location(
      "h", "/etc/ssh/extra/36-f2.conf: line 4: Bad configuration option: Foo\n/etc/ssh/x: line 9: x", "/main");
  EXPECT_EQ(a.host, "h");
  EXPECT_EQ(a.file, "/etc/ssh/extra/36-f2.conf");
  EXPECT_EQ(a.line, 4);
  const auto b = sshd_complaint_location(
      "h", "/etc/ssh/sshd_config line 12: Directive 'Port' is not allowed within a Match block", "/main");
  EXPECT_EQ(b.file, "/etc/ssh/sshd_config");
  EXPECT_EQ(b.line, 12);
  const auto c = sshd_complaint_location("h", "Unsupported option UsePAM\nno line here", "/main");
  EXPECT_EQ(c.file, "/main");
  EXPECT_EQ(c.line, 0);
  EXPECT_EQ(sshd_complaint_location("h", "relative line 3: x", "/main").line, 0);
  // the re-read of the main file, which sshd names "reprocess config"
  const auto d = sshd_complaint_location("h", "reprocess config line 28: \"any\" must appear alone", "/main");
  EXPECT_EQ(d.file, "/main");
  EXPECT_EQ(d.line, 28);
  EXPECT_EQ(sshd_complaint_location("h", "/a line 99999999999: x", "/main").line, 0);
}

}  // namespace
}  // namespace sshdctl::config

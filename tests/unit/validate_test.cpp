#include "sshdctl/config/validate.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sshdctl::config

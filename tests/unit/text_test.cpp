#include "sshdctl/common/text.h"

#include <gtest/gtest.h>

namespace sshdctl::text {
namespace {

TEST(SplitWords, KeepsQuotedWordsTogether) {
  EXPECT_EQ(split_words("Banner \"/etc/my banner\"  x\ty"),
            (std::vector<std::string>{"Banner", "\"/etc/my banner\"", "x", "y"}));
}

TEST(LineOfOffset, CountsNewlinesBeforeTheOffset) {
  EXPECT_EQ(line_of_offset("a\nb\nc", 0), 1);
  EXPECT_EQ(line_of_offset("a\nb\nc", 2), 2);
  EXPECT_EQ(line_of_offset("a\nb\nc", 4), 3);
}

TEST(EditDistance, IgnoresCase) {
  EXPECT_EQ(edit_distance("PermitRootLogin", "permitrootlogin"), 0U);
  EXPECT_EQ(edit_distance("PermitRootLogn", "PermitRootLogin"), 1U);
}

TEST(UnifiedDiff, IsEmptyForEqualTexts) { EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "/f"), ""); }

TEST(UnifiedDiff, ShowsOneChangedLineWithContext) {
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n";
  const std::string after = "1\n2\n3\n4\nfive\n6\n7\n8\n";
  EXPECT_EQ(unified_diff(before, after, "/etc/x"),
            "--- a/etc/x\n+++ b/etc/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(UnifiedDiff, ShowsAnAddedFile) {
  EXPECT_EQ(unified_diff("", "x\n", "/new"), "--- a/new\n+++ b/new\n@@ -0,0 +1,1 @@\n+x\n");
}

TEST(QuoteIfNeeded, QuotesWordsWithSpaces) {
  EXPECT_EQ(quote_if_needed("/etc/my banner"), "\"/etc/my banner\"");
  EXPECT_EQ(quote_if_needed("yes"), "yes");
  EXPECT_EQ(quote_if_needed("\"already quoted\""), "\"already quoted\"");
}

}  // namespace
}  // namespace sshdctl::text

// The root shell's framing, the snapshot script and the commit archive, run with this
// machine's real /bin/sh and tar (no SSH: the scripts are what travels).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "sshdctl/common/tar.h"
#include "sshdctl/host/ssh_host.h"
#include "sshdctl/txn/transaction.h"
#include "temp_dir.h"

namespace sshdctl {
namespace {

using host::answer_end;
using host::frame_request;

std::string every_byte() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s + s;
}

// The shell loop as the target runs it, on pipes.
class Loop {
 public:
  Loop() {
    int in[2], out[2], err[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0 || ::pipe(err) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
      ::execl("/bin/sh", "sh", "-c", host::shell_loop_script(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    to_ = in[1];
    from_ = out[0];
    errors_ = err[0];
    read_until([&] { return out_.find('\n') != std::string::npos; });
    ready_ = out_.substr(0, out_.find('\n'));
    out_.erase(0, out_.find('\n') + 1);
  }
  ~Loop() {
    ::close(to_);
    ::close(from_);
    ::close(errors_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  [[nodiscard]] const std::string& ready() const { return ready_; }

  host::CommandResult run(const std::string& script, const std::string& input = {}, const std::string& token = "T0k") {
    const std::string request = frame_request(script, input.size(), token) + input;
    EXPECT_EQ(::write(to_, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    host::CommandResult r;
    std::size_t consumed = 0;
    const std::string err_mark = "\n" + token + "\n";
    read_until([&] {
      return answer_end(out_, token, nullptr, nullptr).has_value() && err_.find(err_mark) != std::string::npos;
    });
    const auto end = *answer_end(out_, token, &r.exit_code, &consumed);
    r.out = out_.substr(0, end);
    out_.erase(0, consumed);
    r.err = err_.substr(0, err_.find(err_mark));
    err_.erase(0, err_.find(err_mark) + err_mark.size());
    return r;
  }

 private:
  template <typename Done>
  void read_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char buf[65536];
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the loop did not answer");
      pollfd fds[2] = {{from_, POLLIN, 0}, {errors_, POLLIN, 0}};
      ::poll(fds, 2, 100);
      if (fds[0].revents & POLLIN) {
        const auto n = ::read(from_, buf, sizeof buf);
        if (n > 0) out_.append(buf, static_cast<std::size_t>(n));
      }
      if (fds[1].revents & POLLIN) {
        const auto n = ::read(errors_, buf, sizeof buf);
        if (n > 0) err_.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1, errors_ = -1;
  std::string out_, err_, ready_;
};

TEST(ShellFraming, CountsTheScriptsLinesAndEndsItWithANewline) {
  EXPECT_EQ(frame_request("echo a\necho b\n", 0, "T"), "2 0 T\necho a\necho b\n");
  EXPECT_EQ(frame_request("echo 'a\nb'", 7, "T"), "2 7 T\necho 'a\nb'\n");
}

TEST(ShellFraming, FindsTheEndOnlyWhenTheWholeTrailerIsThere) {
  int status = -1;
  std::size_t used = 0;
  EXPECT_FALSE(answer_end("data\nT 3", "T", &status, &used));
  const std::string stream = "da\nta\nT 3\nnext";
  ASSERT_TRUE(answer_end(stream, "T", &status, &used));
  EXPECT_EQ(*answer_end(stream, "T", &status, &used), 5U);
  EXPECT_EQ(status, 3);
  EXPECT_EQ(stream.substr(used), "next");
}

TEST(ShellLoop, StartsAndSaysItsUidAndPid) {
  const Loop loop;
  EXPECT_EQ(loop.ready().rfind("sshdctl-ready " + std::to_string(::geteuid()) + " ", 0), 0U) << loop.ready();
}

TEST(ShellLoop, EveryByteValueSurvivesInputAndOutput) {
  if (::geteuid() != 0) GTEST_SKIP() << "the loop keeps its input in /run (root only)";
  Loop loop;
  const auto r = loop.run("cat; printf 'x' >&2; exit 4", every_byte());
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.out, every_byte());
  EXPECT_EQ(r.err, "x");
}

TEST(ShellLoop, OutputThatLooksLikeAnEndDoesNotEndTheAnswer) {
  Loop loop;
  const auto r = loop.run("printf '\\nother 0\\nT0 1\\n'; echo done", {}, "T0k");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "\nother 0\nT0 1\ndone\n");
}

TEST(ShellLoop, AScriptThatStopsEarlyLeavesTheStreamInStep) {
  if (::geteuid() != 0) GTEST_SKIP() << "the loop keeps its input in /run (root only)";
  Loop loop;
  EXPECT_EQ(loop.run("exit 7", "unread input").exit_code, 7);
  const auto r = loop.run("echo next");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "next\n");
}

TEST(ShellLoop, ScriptsWithoutInputReadNothing) {
  Loop loop;
  EXPECT_EQ(loop.run("cat; echo end").out, "end\n");
  EXPECT_EQ(loop.run("set -- a b; echo $#").out, "2\n");
  EXPECT_EQ(loop.run("echo $#").out, "0\n");  // each script has its own positional parameters
}

TEST(Snapshot, ReadsFilesWithAnyNameAndEveryByteAndFollowsIncludes) {
  const testing::TempDir dir("snapshot");
  const std::string base = dir.path();
  ::mkdir((base + "/sub dir").c_str(), 0755);
  const std::string main = dir.write("main", "Port 22\r\n  include=\"" + base + "/sub dir/*.conf\" # comment\n");
  (void)dir.write("sub dir/a b.conf", every_byte());
  (void)dir.write("sub dir/it's.conf", "");
  (void)dir.write("sub dir/z.conf", "INCLUDE " + base + "/nested\n");
  (void)dir.write("nested", "X11Forwarding no");
  ::chmod((base + "/nested").c_str(), 0640);
  Loop loop;
  std::string args = "set -- R " + host::shell_quote(main) + " F " + host::shell_quote(base + "/missing") + " S " +
                     host::shell_quote(base + "/sub dir") + " G " + host::shell_quote(base + "/none*") + " P /bin/sh";
  const auto r = loop.run(args + "\n" + host::snapshot_script());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto snap = host::parse_snapshot(r.out);
  EXPECT_EQ(snap.files.at(main).content, dir.read("main"));
  EXPECT_EQ(snap.files.at(base + "/sub dir/a b.conf").content, every_byte());
  EXPECT_EQ(snap.files.at(base + "/sub dir/it's.conf").content, "");
  EXPECT_EQ(snap.files.at(base + "/nested").content, "X11Forwarding no");
  EXPECT_EQ(snap.files.at(base + "/nested").info.mode, 0640U);
  EXPECT_FALSE(snap.files.at(base + "/missing").info.exists);
  EXPECT_TRUE(snap.files.at(base + "/sub dir").info.exists);
  EXPECT_FALSE(snap.files.at(base + "/sub dir").info.regular);
  EXPECT_EQ(
      snap.globs.at(base + "/sub dir/*.conf"),
      (std::vector<std::string>{base + "/sub dir/a b.conf", base + "/sub dir/it's.conf", base + "/sub dir/z.conf"}));
  EXPECT_TRUE(snap.globs.at(base + "/none*").empty());
  EXPECT_TRUE(snap.programs.at("/bin/sh"));
}

TEST(Snapshot, AnAnswerThatDoesNotAddUpIsRefused) {
  EXPECT_THROW(host::parse_snapshot("F 0 1 /a\nstat\nregular file|644|0|0|5\ndata\nabc"), Error);
  EXPECT_THROW(host::parse_snapshot("F 0 1 /a\nstat\ndata\n"), Error);
  // A path named twice, once regular and once not (finding 7): the script names each once.
  EXPECT_THROW(host::parse_snapshot("F 0 1 /a\nS 0 0 /a\nstat\nregular file|644|0|0|3\ndirectory|755|0|0|4096\n"
                                    "data\nabc"),
               Error);
  // Sizes whose sum wraps past 2^64 to the bytes there (tests/fuzz/README.md, finding 5).
  EXPECT_THROW(host::parse_snapshot("F 0 1 /a\nF 0 1 /b\nstat\nregular file|644|0|0|4\n"
                                    "regular file|644|0|0|18446744073709551615\ndata\nabc"),
               Error);
  const auto ok = host::parse_snapshot("F 0 1 /a\nX /b\nstat\nregular file|644|0|0|3\ndata\nabc");
  EXPECT_EQ(ok.files.at("/a").content, "abc");
  EXPECT_FALSE(ok.files.at("/b").info.exists);
}

TEST(TarWriter, UnpacksWithTheSystemTarByteForByteWithModesAndLongNames) {
  const testing::TempDir dir("tar");
  tar::Writer w(1700000000);
  const std::string long_name = "d/" + std::string(120, 'x') + "/" + std::string(90, 'y') + "/file with spaces";
  const std::string longer = std::string(210, 'z');
  w.add_dir("d", 0700, ::geteuid(), ::getegid());
  w.add_file("d/bytes", every_byte(), 0640, ::geteuid(), ::getegid());
  w.add_file("d/empty", "", 0600, ::geteuid(), ::getegid());
  w.add_file(long_name, "long", 0644, ::geteuid(), ::getegid());
  w.add_file("d/" + longer, "longer", 0644, ::geteuid(), ::getegid());
  const std::string archive = w.finish();
  const std::string path = dir.write("a.tar", archive);
  ASSERT_EQ(std::system(("tar -x -f " + path + " -C " + dir.path()).c_str()), 0);
  EXPECT_EQ(dir.read("d/bytes"), every_byte());
  EXPECT_EQ(dir.read("d/empty"), "");
  EXPECT_EQ(dir.read(long_name), "long");
  EXPECT_EQ(dir.read("d/" + longer), "longer");
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("d/bytes").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640U);
  ASSERT_EQ(::stat(dir.file("d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
}

TEST(CommitScript, TakesItsFilesAsTriplesAfterTheFixedArguments) {
  const auto args = txn::commit_args("ID", 30, 5, "/etc/ssh/sshd_config", 120, {"user=a,host=b", "user=c,host=d"},
                                     {{"/etc/ssh/sshd_config", std::string("abc"), false},
                                      {"/etc/new file", std::nullopt, false},
                                      {"/etc/gone", std::string("def"), true}});
  EXPECT_EQ(args, (std::vector<std::string>{"ID", "30", "5", "/etc/ssh/sshd_config", "120",
                                            "user=a,host=b\nuser=c,host=d", "W", "/etc/ssh/sshd_config", "abc", "W",
                                            "/etc/new file", "-", "D", "/etc/gone", "def"}));
  EXPECT_EQ(txn::commit_args("ID", 30, 5, "", 0, {}, {})[5], "-");
  // It parses as sh: the target's sh would refuse a broken script only at commit time.
  const testing::TempDir dir("commit");
  const std::string script = dir.write("commit.sh", txn::commit_script());
  EXPECT_EQ(std::system(("sh -n " + script).c_str()), 0);
}

}  // namespace
}  // namespace sshdctl

#include "interrupt.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>

namespace sshdctl::cli {

namespace {

// Two buffers: the handler reads the one `current` names while the other is written.
constexpr std::size_t kNoteSize = 1024;
char notes[2][kNoteSize] = {"nothing was changed", ""};
std::atomic<int> current{0};
std::mutex writer;

void say(const char* text) {
  const std::size_t n = std::strlen(text);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(STDERR_FILENO, text + done, n - done);
    if (w <= 0) return;
    done += static_cast<std::size_t>(w);
  }
}

extern "C" void on_interrupt(int sig) {
  say(sig == SIGINT ? "\nsshdctl: interrupted (Ctrl-C); " : "\nsshdctl: terminated (SIGTERM); ");
  say(notes[current.load()]);
  say("\n");
  ::_exit(128 + sig);
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void set_interrupt_note(const std::string& note) {
  const std::lock_guard<std::mutex> hold(writer);
  const int next = 1 - current.load();
  const std::size_t n = std::min(note.size(), kNoteSize - 1);
  std::memcpy(notes[next], note.data(), n);
  notes[next][n] = '\0';
  current.store(next);
}

}  // namespace sshdctl::cli

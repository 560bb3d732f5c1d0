// latency_proxy -- a userspace TCP forwarder that holds every chunk for a fixed time, so the
// benchmarks can put a WAN-like round trip between the controller and the lab hosts on a
// kernel without netem. It also counts how often the client had to wait for the server.
//
//   latency_proxy --delay-ms MS [--stats FILE] [--trace] --map LISTEN_ADDR:PORT=TARGET_ADDR:PORT [--map ...]
//
// Every accepted connection gets its own connection to the map's target. Each chunk read in
// either direction is queued with a time stamp and written MS milliseconds later, in order, so
// a request/response round trip costs 2*MS more. EOF is passed on (shutdown(SHUT_WR)) after
// the data queued before it; a reset, or a write to a side that is gone, resets the other side
// as well (after MS too, like a packet would). A listen port 0 picks a free port.
//
// Two counts of how often a client had to wait for its server, per connection:
//   turns        client->server chunks forwarded when the chunk forwarded before them on the
//                connection went server->client (the first client chunk counts too): how
//                often the client spoke again after hearing the server. Every chunk waits the
//                same delay, so forwarding order is reading order, and it is counted there.
//   round_trips  the longest chain of chunks, alternating client and server, in which each was
//                read after the one before it had been delivered (so could have caused it).
// Neither uses a clock, but both see the order in which messages reach the proxy. An answer is
// read at least one delay after what it answers, so messages a peer sends on its own shortly
// after each other (SSH's banner and KEXINIT, exit-status and close) fall on one side of it;
// a peer slower than one delay (turns) or two (round_trips) between them adds one.
//
// Stats ("key value" lines, written atomically: temp file + rename) go to FILE at the start,
// on SIGUSR1, and on SIGTERM, SIGINT or SIGHUP, which then end the proxy (status 0). "ready"
// is printed on stdout once every map listens. --trace logs every chunk read (time,
// connection, direction, size, level, turn) to stderr. Single-threaded: one ppoll loop.
//
// The TCP handshake itself is not delayed (the kernel completes it before accept), so a new
// connection costs one round trip less than on a real link of the same latency.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadSize = 64 * 1024;
// Per direction: beyond this much queued data the source is not read any more, so a fast
// sender is slowed down by TCP instead of filling our memory.
constexpr std::size_t kQueueLimit = 4 * 1024 * 1024;

struct Map {
  sockaddr_in listen{};
  sockaddr_in target{};
  std::string target_text;
  int fd = -1;
  std::uint64_t connections = 0, turns = 0, round_trips = 0;
};

struct ConnStats {
  std::size_t map;
  std::uint64_t c2s = 0, s2c = 0, turns = 0, round_trips = 0;
};

enum class Kind { kData, kEof, kReset };

struct Chunk {
  Clock::time_point due;
  Kind kind;
  std::vector<char> data;
  std::uint64_t level = 0;  // see Conn::level
  std::size_t sent = 0;
};

// One direction of a connection: pipe[0] goes client -> server, pipe[1] server -> client.
struct Pipe {
  std::deque<Chunk> queue;
  std::size_t queued = 0;  // data bytes in the queue
  bool reading = true;     // the source may still send (no EOF, no error yet)
  bool blocked = false;    // the destination's send buffer is full: wait for POLLOUT
  bool done = false;       // EOF passed on
};

struct Conn {
  std::size_t id;            // index into the stats, in accept order
  int fd[2] = {-1, -1};      // 0: client, 1: server
  bool connecting = true;    // the connection to the target is not up yet
  bool server_spoke = true;  // the last chunk read went server->client (or none yet)
  // Round trips: every chunk gets the length of the longest chain of chunks, alternating
  // client and server, each read after the one before was delivered (could have caused it).
  // level[0]: the highest such length delivered to the client, level[1]: to the server.
  std::uint64_t level[2] = {0, 0};
  Pipe pipe[2];
};

std::chrono::milliseconds delay{0};
std::string stats_path;
bool trace = false;
const Clock::time_point start = Clock::now();
std::vector<Map> maps;
std::vector<ConnStats> stats;
std::vector<std::unique_ptr<Conn>> conns;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "latency_proxy: %s\n", what.c_str());
  std::exit(2);
}

std::string text(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

bool parse_endpoint(const std::string& s, sockaddr_in& a) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long p = std::stoul(port);
  if (p > 65535) return false;
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(p));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) == 1;
}

void write_stats() {
  if (stats_path.empty()) return;
  std::uint64_t c2s = 0, s2c = 0, turns = 0, round_trips = 0;
  for (const ConnStats& c : stats) c2s += c.c2s, s2c += c.s2c, turns += c.turns, round_trips += c.round_trips;
  const std::string tmp = stats_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "delay_ms " << delay.count() << "\nconnections " << stats.size() << "\nopen " << conns.size() << "\nbytes_c2s "
      << c2s << "\nbytes_s2c " << s2c << "\nturns " << turns << "\nround_trips " << round_trips << "\n";
    for (std::size_t i = 0; i < maps.size(); ++i) {
      const std::string k = "map." + std::to_string(i + 1) + ".";
      f << k << "listen " << text(maps[i].listen) << "\n"
        << k << "target " << maps[i].target_text << "\n"
        << k << "connections " << maps[i].connections << "\n"
        << k << "turns " << maps[i].turns << "\n"
        << k << "round_trips " << maps[i].round_trips << "\n";
    }
    for (std::size_t i = 0; i < stats.size(); ++i) {
      const std::string k = "conn." + std::to_string(i + 1) + ".";
      f << k << "map " << stats[i].map + 1 << "\n"
        << k << "bytes_c2s " << stats[i].c2s << "\n"
        << k << "bytes_s2c " << stats[i].s2c << "\n"
        << k << "turns " << stats[i].turns << "\n"
        << k << "round_trips " << stats[i].round_trips << "\n";
    }
    if (!f.flush()) {
      std::fprintf(stderr, "latency_proxy: cannot write %s\n", tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), stats_path.c_str()) != 0)
    std::fprintf(stderr, "latency_proxy: cannot rename %s: %s\n", tmp.c_str(), std::strerror(errno));
}

void set_nodelay(int fd) {
  const int one = 1;  // SSH sends small packets and waits for answers: Nagle would add delay
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with an RST instead of a FIN, so the peer sees "connection reset" as it would have.
void reset_close(int fd) {
  const linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(fd);
}

void push(Pipe& p, Kind kind, std::vector<char> data = {}, std::uint64_t level = 0) {
  p.queued += data.size();
  p.queue.push_back(Chunk{Clock::now() + delay, kind, std::move(data), level});
}

// Side `side` of c is broken (reset, write to a closed socket, failed connect): nothing more
// can reach it, and the other side is reset once the news has "travelled" for the delay.
void fail(Conn& c, int side) {
  if (c.fd[side] >= 0) close(c.fd[side]);
  c.fd[side] = -1;
  Pipe& toward = c.pipe[1 - side];
  toward.queue.clear();
  toward.queued = 0;
  toward.reading = false;  // what the other side still sends has nowhere to go
  c.pipe[side].reading = false;
  push(c.pipe[side], Kind::kReset);
}

void read_side(Conn& c, int side) {
  Pipe& p = c.pipe[side];
  std::vector<char> buf(kReadSize);
  const ssize_t n = recv(c.fd[side], buf.data(), buf.size(), 0);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail(c, side);
    return;
  }
  if (n == 0) {
    p.reading = false;
    push(p, Kind::kEof);
    return;
  }
  buf.resize(static_cast<std::size_t>(n));
  ConnStats& s = stats[c.id];
  const bool turn = side == 0 && c.server_spoke;
  // a client chunk answers at most what the client has heard; a server chunk what it has
  const std::uint64_t level = side == 0 ? c.level[0] + 1 : c.level[1];
  if (side == 0) {
    s.c2s += buf.size();
    if (turn) ++s.turns, ++maps[s.map].turns;
    if (level > s.round_trips) maps[s.map].round_trips += level - s.round_trips, s.round_trips = level;
  } else {
    s.s2c += buf.size();
  }
  c.server_spoke = side == 1;
  if (trace)
    std::fprintf(stderr, "%9.3f conn %zu %s %zu level %llu%s\n",
                 std::chrono::duration<double, std::milli>(Clock::now() - start).count(), c.id + 1,
                 side == 0 ? "c>s" : "s>c", buf.size(), static_cast<unsigned long long>(level), turn ? " turn" : "");
  push(p, Kind::kData, std::move(buf), level);
}

// Writes what is due in direction i, in order, until the queue is empty, the next chunk is not
// due yet, or the destination cannot take more.
void deliver(Conn& c, int i, Clock::time_point now) {
  Pipe& p = c.pipe[i];
  const int to = 1 - i;
  while (!p.queue.empty() && !p.blocked && p.queue.front().due <= now) {
    if (c.fd[to] < 0) {  // destination gone: drop
      p.queue.clear();
      p.queued = 0;
      return;
    }
    if (to == 1 && c.connecting) return;
    Chunk& ch = p.queue.front();
    if (ch.kind == Kind::kEof) {
      shutdown(c.fd[to], SHUT_WR);
      p.done = true;
    } else if (ch.kind == Kind::kReset) {
      reset_close(c.fd[to]);
      c.fd[to] = -1;
      c.pipe[0].queue.clear();
      c.pipe[1].queue.clear();
      return;
    } else {
      const ssize_t n = send(c.fd[to], ch.data.data() + ch.sent, ch.data.size() - ch.sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          p.blocked = true;
        else if (errno != EINTR)
          fail(c, to);
        return;
      }
      c.level[to] = std::max(c.level[to], ch.level);
      ch.sent += static_cast<std::size_t>(n);
      if (ch.sent < ch.data.size()) {
        p.blocked = true;
        return;
      }
      p.queued -= ch.data.size();
    }
    p.queue.pop_front();
  }
}

void accept_all(std::size_t m) {
  for (;;) {
    const int cfd = accept4(maps[m].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        std::fprintf(stderr, "latency_proxy: accept on %s: %s\n", text(maps[m].listen).c_str(), std::strerror(errno));
      return;
    }
    auto c = std::make_unique<Conn>();
    c->id = stats.size();
    stats.push_back(ConnStats{m});
    ++maps[m].connections;
    c->fd[0] = cfd;
    set_nodelay(cfd);
    c->fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd[1] < 0) {
      fail(*c, 1);
    } else {
      set_nodelay(c->fd[1]);
      const sockaddr_in& t = maps[m].target;
      if (connect(c->fd[1], reinterpret_cast<const sockaddr*>(&t), sizeof t) == 0)
        c->connecting = false;
      else if (errno != EINPROGRESS)
        fail(*c, 1);
    }
    conns.push_back(std::move(c));
  }
}

void connected(Conn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c.fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    fail(c, 1);
    return;
  }
  c.connecting = false;
}

bool finished(const Conn& c) {
  if (c.fd[0] < 0 && c.fd[1] < 0) return true;
  if (!(c.pipe[0].done && c.pipe[1].done)) return false;
  close(c.fd[0]);
  close(c.fd[1]);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool have_delay = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--trace") {
      trace = true;
      continue;
    }
    if (i + 1 >= argc) die("usage: latency_proxy --delay-ms MS [--stats FILE] --map LISTEN:PORT=TARGET:PORT ...");
    const std::string v = argv[++i];
    if (a == "--delay-ms") {
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos)
        die("--delay-ms wants a number of milliseconds, not '" + v + "'");
      delay = std::chrono::milliseconds(std::stol(v));
      have_delay = true;
    } else if (a == "--stats") {
      stats_path = v;
    } else if (a == "--map") {
      Map m;
      const auto eq = v.find('=');
      if (eq == std::string::npos || !parse_endpoint(v.substr(0, eq), m.listen) ||
          !parse_endpoint(v.substr(eq + 1), m.target) || m.target.sin_port == 0)
        die("--map wants LISTEN_ADDR:PORT=TARGET_ADDR:PORT (IPv4 addresses), not '" + v + "'");
      m.target_text = v.substr(eq + 1);
      maps.push_back(m);
    } else {
      die("unknown option " + a);
    }
  }
  if (!have_delay || maps.empty())
    die("usage: latency_proxy --delay-ms MS [--stats FILE] --map LISTEN:PORT=TARGET:PORT ...");

  // Signals arrive through a descriptor, so they are handled between two steps of the loop
  // and never interrupt one (the stats are always consistent).
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGUSR1, SIGTERM, SIGINT, SIGHUP}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sfd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) die(std::string("signalfd: ") + std::strerror(errno));

  for (Map& m : maps) {
    m.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;  // a restarted proxy can listen again while old connections linger
    setsockopt(m.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (m.fd < 0 || bind(m.fd, reinterpret_cast<const sockaddr*>(&m.listen), sizeof m.listen) != 0 ||
        listen(m.fd, SOMAXCONN) != 0)
      die("cannot listen on " + text(m.listen) + ": " + std::strerror(errno));
    socklen_t len = sizeof m.listen;  // the port the kernel chose for port 0
    getsockname(m.fd, reinterpret_cast<sockaddr*>(&m.listen), &len);
  }
  write_stats();  // tells the listen ports before anyone connects
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<pollfd> pfds;
  std::vector<std::pair<Conn*, int>> owner;  // for pfds after the fixed ones: connection, side
  for (;;) {
    const Clock::time_point now = Clock::now();
    for (auto& c : conns)
      for (int i = 0; i < 2; ++i) deliver(*c, i, now);
    std::erase_if(conns, [](const std::unique_ptr<Conn>& c) { return finished(*c); });

    // What to wait for: new connections, signals, readable sources that are not too far
    // ahead, writable destinations that were full, connects; and the next chunk due.
    pfds.clear();
    owner.clear();
    pfds.push_back({sfd, POLLIN, 0});
    for (const Map& m : maps) pfds.push_back({m.fd, POLLIN, 0});
    Clock::time_point next = Clock::time_point::max();
    for (auto& c : conns) {
      for (int side = 0; side < 2; ++side) {
        const Pipe& in = c->pipe[side];
        const Pipe& out = c->pipe[1 - side];
        short ev = 0;
        if (in.reading && in.queued < kQueueLimit) ev |= POLLIN;
        if (out.blocked || (side == 1 && c->connecting)) ev |= POLLOUT;
        // fd -1 makes poll skip it: a shut-down socket would otherwise report POLLHUP
        // forever while nothing is wanted from it
        pfds.push_back({ev != 0 ? c->fd[side] : -1, ev, 0});
        owner.emplace_back(c.get(), side);
        if (!out.queue.empty() && !out.blocked && !(side == 1 && c->connecting))
          next = std::min(next, out.queue.front().due);
      }
    }
    timespec ts{};
    timespec* timeout = nullptr;
    if (next != Clock::time_point::max()) {
      const auto ns =
          std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(next - now).count());
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      timeout = &ts;
    }
    if (ppoll(pfds.data(), pfds.size(), timeout, nullptr) < 0) {
      if (errno == EINTR) continue;  // e.g. SIGCONT after a SIGSTOP
      die(std::string("ppoll: ") + std::strerror(errno));
    }

    if (pfds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        write_stats();
        if (si.ssi_signo != SIGUSR1) return 0;
      }
    }
    const std::size_t fixed = 1 + maps.size();
    for (std::size_t i = 0; i < owner.size(); ++i) {
      const short rev = pfds[fixed + i].revents;
      if (rev == 0) continue;
      Conn& c = *owner[i].first;
      const int side = owner[i].second;
      if (c.fd[side] < 0) continue;  // closed by an earlier event of this round
      if (side == 1 && c.connecting) {
        connected(c);
        continue;
      }
      if (rev & POLLOUT) c.pipe[1 - side].blocked = false;
      // POLLHUP/POLLERR: the read (or the next write) tells what happened
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && c.pipe[side].reading) read_side(c, side);
    }
    for (std::size_t m = 0; m < maps.size(); ++m)
      if (pfds[1 + m].revents & POLLIN) accept_all(m);
  }
}

// sshdctl_diff_driver: the sshdctl side of the differential test against `sshd -T`.
//
// One long-lived process answers requests on stdin, one per line, fields separated by TAB.
// Every answer ends with a line holding a single ".". In an answer's fields a backslash, TAB,
// CR and newline are written \\, \t, \r and \n (a rest-of-line value keeps its tabs).
// Values are the engine's own words, unnormalised: the runner (tests/differential/normalise.py)
// is the one place that maps them to what sshd prints.
//
//   load ROOT                 load ROOT/etc/ssh/sshd_config and its Include tree through an
//                             FsHost rooted at ROOT
//                             → "ok N" (files read) | "error KIND FILE LINE MESSAGE"
//   keys                      the options the loaded tree sets, in the order sshd reads them
//                             → "key NAME [SUBSYSTEM]" per option
//   resolve SPEC KEY...       effective values; SPEC is "-" (no connection: resolve_global) or
//                             sshd's -C form "user=…,host=…,addr=…[,laddr=…,lport=…,rdomain=…]";
//                             KEY is a keyword, or "Subsystem:NAME"
//                             → "val KEY NSOURCES FROM_MATCH WORD..." per key (NSOURCES 0: sshd's
//                             default; FROM_MATCH 1: a Match block, `Match all` included, decided)
//   from-match SPEC KEY       → "yes" when a Match block other than `Match all` decides KEY for
//                             the connection, else "no"
//   set KEY WORD...           plan_set on the loaded tree, applied, the changed files written
//   unset KEY [NAME]          plan_unset, likewise
//   root-login enable|disable plan_root_login (password logins too, as the CLI's default)
//                             → "changed PATH" per written file | "error KIND FILE LINE MESSAGE"
//
// Group membership for Match Group comes from this machine's /etc/passwd and /etc/group,
// which is what sshd -T -C consults as well.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/host/fs_host.h"

namespace {

namespace fs = std::filesystem;
using namespace sshdctl;

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// Tabs and newlines cannot appear in an answer field as they are: escaped (see the top).
std::string field(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void print_error(const Error& e) {
  std::cout << "error\t" << kind_name(e.kind()) << '\t' << field(e.where().file) << '\t' << e.where().line << '\t'
            << field(e.message()) << '\n';
}

class Driver {
 public:
  explicit Driver(std::string lens_dir) : lens_dir_(std::move(lens_dir)) {}

  void handle(const std::vector<std::string>& req) {
    const std::string& verb = req[0];
    try {
      if (verb == "load" && req.size() == 2) {
        load(req[1]);
      } else if (verb == "keys") {
        keys();
      } else if (verb == "resolve" && req.size() >= 2) {
        resolve(req[1], std::vector<std::string>(req.begin() + 2, req.end()));
      } else if (verb == "from-match" && req.size() == 3) {
        from_match(req[1], req[2]);
      } else if ((verb == "set" || verb == "unset") && req.size() >= 2) {
        edit(verb, req[1], std::vector<std::string>(req.begin() + 2, req.end()));
      } else if (verb == "root-login" && req.size() == 2) {
        edit(verb, req[1], {});
      } else {
        std::cout << "error\tusage\t\t0\tbad request: " << field(verb) << '\n';
      }
    } catch (const Error& e) {
      print_error(e);
    } catch (const std::exception& e) {
      std::cout << "error\texception\t\t0\t" << field(e.what()) << '\n';
    }
    std::cout << ".\n" << std::flush;
  }

 private:
  const config::Model& model() const {
    if (!tree_) throw Error(ErrorKind::kBadInput, "no tree loaded");
    return tree_->model();
  }

  void load(const std::string& root) {
    tree_.reset();
    host_ = std::make_unique<host::FsHost>(root);
    auto tree = std::make_unique<config::ConfigTree>(*host_, lens_dir_);
    tree->load();
    tree_ = std::move(tree);
    std::cout << "ok\t" << tree_->model().files.size() << '\n';
  }

  void keys() {
    std::vector<std::string> seen;
    for (const auto& entry : model().entries) {
      const config::Keyword* kw = config::option_of(entry.directive->keyword);
      if (kw == nullptr) {
        std::cout << "unknown\t" << field(entry.directive->keyword) << '\n';
        continue;
      }
      std::string key(kw->name);
      if (kw->combine == config::Combine::kPerSubsystem) {
        if (entry.directive->args.empty()) continue;
        key += ":" + entry.directive->args[0];
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      std::cout << "key\t" << field(key) << '\n';
    }
  }

  static config::OptionKey option(const std::string& key) {
    const auto colon = key.find(':');
    const std::string name = key.substr(0, colon);
    const config::Keyword* kw = config::option_of(name);
    if (kw == nullptr) throw Error(ErrorKind::kBadInput, "unknown keyword " + name);
    config::OptionKey k{kw, {}};
    if (colon != std::string::npos)
      k.subsystem = text::unquote(key.substr(colon + 1));  // sshd reads `Subsystem "sftp"` as sftp
    return k;
  }

  // The groups sshd would see for `user` on this machine (none for an unknown user).
  std::vector<std::string> groups(const std::string& user) {
    auto it = groups_.find(user);
    if (it == groups_.end()) {
      std::vector<std::string> g;
      if (auto account = host::find_account(system_, user)) g = host::groups_of(system_, *account);
      it = groups_.emplace(user, std::move(g)).first;
    }
    return it->second;
  }

  std::optional<config::Connection> connection(const std::string& spec) {
    std::optional<config::Connection> conn;
    if (spec != "-") {
      conn.emplace();
      for (const auto& part : split(spec, ',')) {
        const auto eq = part.find('=');
        if (eq == std::string::npos) throw Error(ErrorKind::kBadInput, "bad spec part " + part);
        const std::string name = part.substr(0, eq);
        const std::string value = part.substr(eq + 1);
        if (name == "user") {
          conn->user = value;
          conn->groups = groups(value);
        } else if (name == "host") {
          conn->host = value;
        } else if (name == "addr") {
          conn->addr = value;
        } else if (name == "laddr") {
          conn->laddr = value;
        } else if (name == "lport") {
          conn->lport = value;
        } else if (name == "rdomain") {
          conn->rdomain = value;
        } else {
          throw Error(ErrorKind::kBadInput, "bad spec field " + name);
        }
      }
    }
    return conn;
  }

  void from_match(const std::string& spec, const std::string& key) {
    const auto conn = connection(spec);
    bool decided = false;
    bool mixed = false;
    std::vector<std::string> blocks_values;  // what the Match blocks other than `Match all` add
    if (conn) {
      // `Match all` lines count as global ones: a global edit changes them (they apply to every
      // connection and override the lines outside blocks).
      const config::OptionKey k = option(key);
      const auto eff = config::resolve_for(model(), k, *conn, config::Unknown::kIgnore);
      for (const auto* e : eff.sources) {
        if (!eff.from_match) continue;
        if (config::is_baseline_context(model(), e->context)) {
          mixed = true;
        } else {
          decided = true;
          for (const auto& v : config::option_values(*e, k)) blocks_values.push_back(v);
        }
      }
    }
    if (decided && mixed) {
      // An accumulating keyword that both kinds of block add to: a global unset leaves what the
      // other blocks add.
      std::cout << "mixed";
      for (const auto& v : blocks_values) std::cout << '\t' << field(v);
      std::cout << '\n';
      return;
    }
    std::cout << (decided ? "yes" : "no") << '\n';
  }

  void resolve(const std::string& spec, const std::vector<std::string>& keys) {
    const auto conn = connection(spec);
    for (const auto& key : keys) {
      const config::OptionKey k = option(key);
      const config::Effective eff =
          conn ? config::resolve_for(model(), k, *conn, config::Unknown::kIgnore) : config::resolve_global(model(), k);
      // Without a connection, a `Match all` line is a Match line for sshd too.
      const bool in_block = eff.from_match || std::any_of(eff.sources.begin(), eff.sources.end(),
                                                          [](const config::Entry* e) { return e->context >= 0; });
      std::cout << "val\t" << field(key) << '\t' << eff.sources.size() << '\t' << (in_block ? 1 : 0);
      for (const auto& v : eff.values) std::cout << '\t' << field(v);
      std::cout << '\n';
    }
  }

  void edit(const std::string& verb, const std::string& arg, const std::vector<std::string>& words) {
    config::Plan plan;
    std::function<void(const config::Model&)> check;
    if (verb == "root-login") {
      config::RootLoginRequest request;
      request.enable = arg == "enable";
      request.password = request.enable;
      request.permit = request.enable ? "yes" : "no";
      request.root_groups = groups("root");
      plan = config::plan_root_login(model(), request);
      check = [request](const config::Model& edited) { config::require_root_login_effective(edited, request); };
    } else {
      config::OptionKey k = option(arg);
      if (k.keyword->combine == config::Combine::kPerSubsystem && !words.empty()) k.subsystem = words[0];
      if (verb == "set") {
        if (auto problem = config::check_value(*k.keyword, config::value_words(k, words)))
          throw Error(ErrorKind::kBadInput, *problem);
        plan = config::plan_set(model(), k, words);
        check = [k, words](const config::Model& edited) { config::require_set_effective(edited, k, words); };
      } else {
        plan = config::plan_unset(model(), k);
        check = [k](const config::Model& edited) { config::require_unset_effective(edited, k); };
      }
    }
    // As the CLI: the edit must make its value effective, or nothing is written.
    tree_->apply(plan);
    check(tree_->edited_model());
    for (const auto& change : tree_->changes()) {
      const fs::path real = host_->real(change.path);
      if (change.removes) {
        fs::remove(real);
      } else {
        fs::create_directories(real.parent_path());
        std::ofstream out(real, std::ios::binary | std::ios::trunc);
        out << change.after;
        if (!out) throw Error(ErrorKind::kInternal, "cannot write " + real.string());
      }
      std::cout << "changed\t" << field(change.path) << '\n';
    }
  }

  std::string lens_dir_;
  host::FsHost system_{"/"};
  std::unique_ptr<host::FsHost> host_;
  std::unique_ptr<config::ConfigTree> tree_;
  std::map<std::string, std::vector<std::string>> groups_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sshdctl_diff_driver LENS_DIR  (requests on stdin, see the source)\n";
    return 2;
  }
  std::ios::sync_with_stdio(false);
  Driver driver(argv[1]);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    driver.handle(split(line, '\t'));
  }
  return 0;
}

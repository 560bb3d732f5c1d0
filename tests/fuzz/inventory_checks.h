// What every inventory parsed from any text must satisfy (the INI and YAML targets).
#pragma once

#include <algorithm>
#include <set>
#include <string>

#include "fuzz_support.h"
#include "sshdctl/common/text.h"
#include "sshdctl/fleet/inventory.h"

namespace sshdctl::fuzz {

// An Error of a parse must be bad input naming the file and a line of it.
inline void check_inventory_error(const Error& e, const std::string& source, int lines) {
  if (e.kind() != ErrorKind::kBadInput) finding(std::string("not a bad-input error: ") + e.what());
  check(e.where().file == source, std::string("the error names the inventory: ") + e.what());
  // An empty inventory is refused as a whole, without a line.
  const bool whole_file = e.where().line == 0 && e.message().find("empty") != std::string::npos;
  check(whole_file || (e.where().line >= 1 && e.where().line <= lines + 1),
        "the error names a line of the inventory (" + e.where().str() + "): " + e.what());
}

inline void check_inventory(const fleet::Inventory& inventory) {
  std::set<std::string> names;
  for (const auto& host : inventory.hosts) {
    check(!host.name.empty(), "a host has a name");
    check(names.insert(host.name).second, "a host is listed once: " + host.name);
    check(!host.groups.empty() && host.groups.back() == "all", "every host is in 'all', last: " + host.name);
    check(!host.address.empty(), "a host has an address: " + host.name);
    if (host.port) check(*host.port >= 1 && *host.port <= 65535, "a port is 1-65535: " + host.name);
  }
  for (const auto& [group, members] : inventory.groups)
    for (const auto& member : members) check(names.count(member) == 1, "group " + group + " holds a known host");
  // Host ranges make big inventories from short texts (65536 names a line): the selections are
  // checked on the small ones, so that the fuzzer spends its time on parsing.
  if (inventory.hosts.size() > 2000) return;
  for (const char* pattern : {"", "all", "*", "web*:&prod", "!db*", "all[0]", "all[-1]", "all[1:3]"}) {
    std::vector<fleet::InventoryHost> selected;
    const auto error = outcome("select_hosts", [&] { selected = fleet::select_hosts(inventory, pattern); });
    if (error) continue;
    check(!selected.empty(), std::string("a selection that is no error holds a host: ") + pattern);
    for (const auto& host : selected) check(names.count(host.name) == 1, "a selected host is in the inventory");
    if (std::string(pattern).empty() || std::string(pattern) == "all")
      check(selected.size() == inventory.hosts.size(), "'all' selects every host");
  }
  // A group name as a pattern.
  if (!inventory.groups.empty())
    (void)outcome("select_hosts", [&] { (void)fleet::select_hosts(inventory, inventory.groups.begin()->first); });
}

}  // namespace sshdctl::fuzz

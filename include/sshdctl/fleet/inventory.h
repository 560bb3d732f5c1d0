// Inventories users already have: Ansible INI and YAML inventories, a plain host list, or a
// comma list on the command line; and Ansible's --limit patterns to pick hosts from them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sshdctl::fleet {

struct InventoryHost {
  std::string name;                         // the inventory name (also the ssh config alias)
  std::string address;                      // ansible_host, else the name
  std::optional<int> port;                  // ansible_port
  std::string user;                         // ansible_user ("" = ssh config / local user)
  std::string identity;                     // ansible_ssh_private_key_file ("~/" expanded)
  std::optional<bool> become;               // ansible_become (true/false/yes/no/1/0)
  std::vector<std::string> groups;          // every group it is in, parents included, by name; "all" last
  std::map<std::string, std::string> vars;  // merged: host > child group > parent group > all (see below)
  std::string source;                       // "FILE:LINE" where the host first appears
};

struct Inventory {
  std::string source;                                      // the file (or "command line")
  std::vector<InventoryHost> hosts;                        // in order of first appearance
  std::map<std::string, std::vector<std::string>> groups;  // group → host names (children included)
};

// As in Ansible, every group is in "all", and a host that no group but "all" holds is in
// "ungrouped" (listed in Inventory::groups only when it holds a host). Variables merge from the
// shallowest group to the deepest (a group's depth is one more than its deepest parent's, "all"
// being 0), groups of equal depth in name order (the later name wins), then the host's own
// variables (a later line wins). ansible_group_priority is not read. Values keep their text.
// Connection fields: ansible_host (or ansible_ssh_host), ansible_port (or ansible_ssh_port,
// 1-65535), ansible_user (or ansible_ssh_user), ansible_ssh_private_key_file (or
// ansible_private_key_file), ansible_become (Ansible's booleans: true/false, yes/no, on/off,
// 1/0, y/n, t/f, any case).

// SPEC: a comma list "web1,web2" / "web1," as Ansible takes it ("host:port" sets the port) when
// it has a comma and names no existing file; else a file. The file is YAML when no line is an
// INI section header ("[" in the first column) and its first line that is neither blank nor a
// comment is "---", "%YAML", "{...", "all:..." or a bare "key:"; else INI (a file of bare host
// names is an INI without groups). Errors (sshdctl::Error, kBadInput; kNotFound for a missing
// file) name FILE:LINE and what is wrong.
Inventory load_inventory(const std::string& spec);
// INI as Ansible reads it: [group], [group:hosts], [group:vars], [group:children], host ranges
// (web[01:20], db-[a:f], n[1:10:2]); a group named in [x:children] or [x:vars] must be declared
// by a [x] or [x:children] section somewhere in the file.
Inventory parse_ini(const std::string& text, const std::string& source);
// YAML: groups at the top level ("all" and any other), each with hosts, vars and children.
Inventory parse_yaml(const std::string& text, const std::string& source);

// Ansible --limit: "all" or "*", names, groups, globs (web*, matched against group and host
// names), "~regex" (ECMAScript, anchored at the start like Python's re.match, matched against
// group and host names), subscripts (web[0], web[-1], web[1:3]), joined by "," (or ":" when
// there is no ","); "&x" intersects, "!x" excludes, applied after all the unions whatever their
// place (with no plain part they apply to all hosts). The hosts in inventory order. A plain part
// that matches nothing is an error (kBadInput) listing the groups; so is an empty selection. An
// empty pattern selects all.
std::vector<InventoryHost> select_hosts(const Inventory& inventory, const std::string& pattern);

}  // namespace sshdctl::fleet

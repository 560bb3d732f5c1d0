// Inventories users already have: Ansible INI and YAML inventories, a plain host list, or a
// comma list on the command line; and Ansible's --limit patterns to pick hosts from them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sshdctl::fleet {

struct InventoryHost {
  std::string name;                           // the inventory name (also the ssh config alias)
  std::string address;                        // ansible_host, else the name
  std::optional<int> port;                    // ansible_port
  std::string user;                           // ansible_user ("" = ssh config / local user)
  std::string identity;                       // ansible_ssh_private_key_file ("~/" expanded)
  std::optional<bool> become;                 // ansible_become (true/false/yes/no/1/0)
  std::vector<std::string> groups;            // every group it is in, parents included, "all" last
  std::map<std::string, std::string> vars;    // merged: host > child group > parent group > all
  std::string source;                         // "FILE:LINE" where the host first appears
};

struct Inventory {
  std::string source;                                        // the file (or "command line")
  std::vector<InventoryHost> hosts;                          // in order of first appearance
  std::map<std::string, std::vector<std::string>> groups;    // group → host names (children included)
};

// SPEC: a file (YAML when it parses as a YAML mapping with hosts/children/vars, else INI; a file
// of bare host names is an INI without groups), or a comma list "web1,web2" / "web1," as
// Ansible takes it. Errors (sshdctl::Error, kBadInput) name FILE:LINE and what is wrong.
Inventory load_inventory(const std::string& spec);
Inventory parse_ini(const std::string& text, const std::string& source);
Inventory parse_yaml(const std::string& text, const std::string& source);

// Ansible --limit: "all" or "*", names, groups, globs (web*), "~regex", joined by ":" or ",";
// "&group" intersects, "!group" excludes. The hosts in inventory order. A pattern that names
// nothing known is an error (kBadInput) listing the groups; an empty pattern selects all.
std::vector<InventoryHost> select_hosts(const Inventory& inventory, const std::string& pattern);

}  // namespace sshdctl::fleet

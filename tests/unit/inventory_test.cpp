#include "sshdctl/fleet/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include "sshdctl/common/error.h"
#include "temp_dir.h"

namespace sshdctl::fleet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kExamples = SSHDCTL_EXAMPLES;

using TempDir = sshdctl::testing::TempDir;

// The message of the sshdctl::Error that F throws, failing the test when it throws none or
// another kind.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

std::string ini_error(const std::string& text) {
  return error_of([&] { parse_ini(text, "inv"); });
}

std::string yaml_error(const std::string& text) {
  return error_of([&] { parse_yaml(text, "inv.yml"); });
}

std::vector<std::string> names(const std::vector<InventoryHost>& hosts) {
  std::vector<std::string> out;
  for (const auto& host : hosts) out.push_back(host.name);
  return out;
}

const InventoryHost& host(const Inventory& inventory, const std::string& name) {
  for (const auto& h : inventory.hosts)
    if (h.name == name) return h;
  throw std::runtime_error("no host " + name);
}

// A "~/..." key path as the inventory gives it back: under $HOME when it is set.
std::string expanded(const std::string& path) {
  const char* home = std::getenv("HOME");
  return home == nullptr || *home == '\0' ? path : home + path.substr(1);
}

// --- The examples ---------------------------------------------------------------------------

TEST(InventoryExamples, IniAndYamlDescribeTheSameFleet) {
  const Inventory ini = load_inventory(kExamples + "/inventory/hosts.ini");
  const Inventory yaml = load_inventory(kExamples + "/inventory/hosts.yml");
  ASSERT_EQ(names(ini.hosts), names(yaml.hosts));
  EXPECT_THAT(names(ini.hosts), ElementsAre("bastion.example.com", "web01.example.com", "web02.example.com",
                                            "web03.example.com", "db1.example.com", "db2.example.com"));
  for (std::size_t i = 0; i < ini.hosts.size(); ++i) {
    const auto& a = ini.hosts[i];
    const auto& b = yaml.hosts[i];
    EXPECT_EQ(a.address, b.address) << a.name;
    EXPECT_EQ(a.port, b.port) << a.name;
    EXPECT_EQ(a.user, b.user) << a.name;
    EXPECT_EQ(a.identity, b.identity) << a.name;
    EXPECT_EQ(a.become, b.become) << a.name;
    EXPECT_EQ(a.groups, b.groups) << a.name;
    EXPECT_EQ(a.vars, b.vars) << a.name;
  }
  EXPECT_EQ(ini.groups, yaml.groups);
  EXPECT_EQ(ini.source, kExamples + "/inventory/hosts.ini");
  EXPECT_EQ(yaml.source, kExamples + "/inventory/hosts.yml");
}

TEST(InventoryExamples, ResolveConnectionSettings) {
  const Inventory inventory = load_inventory(kExamples + "/inventory/hosts.ini");

  const auto& bastion = host(inventory, "bastion.example.com");
  EXPECT_EQ(bastion.address, "bastion.example.com");
  EXPECT_EQ(bastion.port, 2222) << "its own variable beats all:vars";
  EXPECT_EQ(bastion.user, "ops");
  EXPECT_EQ(bastion.identity, "");
  EXPECT_EQ(bastion.become, std::nullopt);
  EXPECT_THAT(bastion.groups, ElementsAre("ungrouped", "all"));
  EXPECT_EQ(bastion.source, kExamples + "/inventory/hosts.ini:5");

  const auto& web2 = host(inventory, "web02.example.com");
  EXPECT_EQ(web2.address, "web02.example.com");
  EXPECT_EQ(web2.port, 22);
  EXPECT_EQ(web2.user, "deploy") << "web:vars beats all:vars";
  EXPECT_EQ(web2.identity, expanded("~/.ssh/prod_ed25519"));
  EXPECT_EQ(web2.become, true) << "from prod:vars";
  EXPECT_THAT(web2.groups, ElementsAre("prod", "web", "all"));
  EXPECT_EQ(web2.source, kExamples + "/inventory/hosts.ini:8");
  EXPECT_EQ(web2.vars.at("ansible_ssh_private_key_file"), "~/.ssh/prod_ed25519") << "vars keep the text";

  EXPECT_EQ(host(inventory, "web03.example.com").address, "192.0.2.13");

  const auto& db1 = host(inventory, "db1.example.com");
  EXPECT_EQ(db1.address, "192.0.2.21");
  EXPECT_EQ(db1.user, "dba");
  EXPECT_EQ(db1.become, true) << "the host's yes beats db's false";
  EXPECT_THAT(db1.groups, ElementsAre("db", "prod", "all"));

  const auto& db2 = host(inventory, "db2.example.com");
  EXPECT_EQ(db2.port, 2200);
  EXPECT_EQ(db2.become, false) << "db (child) beats prod (parent)";

  EXPECT_THAT(inventory.groups.at("web"), ElementsAre("web01.example.com", "web02.example.com", "web03.example.com"));
  EXPECT_THAT(inventory.groups.at("prod"), ElementsAre("web01.example.com", "web02.example.com", "web03.example.com",
                                                       "db1.example.com", "db2.example.com"));
  EXPECT_EQ(inventory.groups.at("all").size(), 6U);
  EXPECT_THAT(inventory.groups.at("ungrouped"), ElementsAre("bastion.example.com"));
}

// --- INI ------------------------------------------------------------------------------------

TEST(InventoryIni, BareHostNamesAreUngrouped) {
  const Inventory inventory = parse_ini("# my hosts\nweb1\n\n; another comment\nweb2.example.com\n", "list");
  EXPECT_THAT(names(inventory.hosts), ElementsAre("web1", "web2.example.com"));
  EXPECT_THAT(inventory.hosts[0].groups, ElementsAre("ungrouped", "all"));
  EXPECT_EQ(inventory.hosts[0].address, "web1");
  EXPECT_EQ(inventory.hosts[0].port, std::nullopt);
  EXPECT_EQ(inventory.hosts[1].source, "list:5");
  EXPECT_THAT(inventory.groups.at("ungrouped"), ElementsAre("web1", "web2.example.com"));
  EXPECT_EQ(inventory.groups.size(), 2U);
}

TEST(InventoryIni, HostLinesTakeQuotedValuesAndTrailingComments) {
  const Inventory inventory = parse_ini(
      "[web]\n"
      "web1 motd=\"hello world\" note='it is' plain=x # a comment\n"
      "web2:2222 ansible_user=alice path=a\\ b   ansible_host=10.0.0.2\n",
      "inv");
  const auto& web1 = host(inventory, "web1");
  EXPECT_EQ(web1.vars.at("motd"), "hello world");
  EXPECT_EQ(web1.vars.at("note"), "it is");
  EXPECT_EQ(web1.vars.at("plain"), "x");
  EXPECT_EQ(web1.vars.size(), 3U);
  const auto& web2 = host(inventory, "web2");
  EXPECT_EQ(web2.port, 2222) << "host:port";
  EXPECT_EQ(web2.user, "alice");
  EXPECT_EQ(web2.address, "10.0.0.2");
  EXPECT_EQ(web2.vars.at("path"), "a b");
}

TEST(InventoryIni, GroupVarsChildrenAndHostsSections) {
  const Inventory inventory = parse_ini(
      "[web:hosts]\n"
      "web1\n"
      "[web:vars]\n"
      "ansible_user = deploy\n"
      "motd=\"quoted # kept\"  # dropped\n"
      "raw=a # kept too\n"
      "[site:children]  # a comment\n"
      "web\n"
      "db\n"
      "[db]\n"
      "db1\n",
      "inv");
  const auto& web1 = host(inventory, "web1");
  EXPECT_EQ(web1.user, "deploy");
  EXPECT_EQ(web1.vars.at("motd"), "quoted # kept");
  EXPECT_EQ(web1.vars.at("raw"), "a # kept too");
  EXPECT_THAT(web1.groups, ElementsAre("site", "web", "all"));
  EXPECT_THAT(inventory.groups.at("site"), ElementsAre("web1", "db1"));
  EXPECT_EQ(inventory.groups.count("ungrouped"), 0U) << "no host is ungrouped";
}

TEST(InventoryIni, EmptyGroupsAreKnown) {
  const Inventory inventory = parse_ini("[spare]\n[web]\nweb1\n", "inv");
  EXPECT_THAT(inventory.groups.at("spare"), IsEmpty());
}

TEST(InventoryIni, AHostInSeveralGroupsIsOneHost) {
  const Inventory inventory = parse_ini(
      "[web]\n"
      "box1 a=1 b=1\n"
      "[db]\n"
      "box2\n"
      "box1 b=2\n",
      "inv");
  ASSERT_THAT(names(inventory.hosts), ElementsAre("box1", "box2"));
  const auto& box = inventory.hosts[0];
  EXPECT_THAT(box.groups, ElementsAre("db", "web", "all"));
  EXPECT_EQ(box.vars.at("a"), "1");
  EXPECT_EQ(box.vars.at("b"), "2") << "the later line wins";
  EXPECT_EQ(box.source, "inv:2") << "where it first appears";
  EXPECT_THAT(inventory.groups.at("db"), ElementsAre("box1", "box2")) << "inventory order";
}

TEST(InventoryIni, NumericRangesKeepLeadingZeros) {
  const Inventory inventory = parse_ini("[web]\nweb[08:11].example.com ansible_user=u\n", "inv");
  EXPECT_THAT(names(inventory.hosts),
              ElementsAre("web08.example.com", "web09.example.com", "web10.example.com", "web11.example.com"));
  for (const auto& h : inventory.hosts) {
    EXPECT_EQ(h.user, "u");
    EXPECT_EQ(h.source, "inv:2");
  }
}

TEST(InventoryIni, RangesWithLettersStridesSeveralBracketsAndAPort) {
  EXPECT_THAT(names(parse_ini("db-[a:c]\n", "inv").hosts), ElementsAre("db-a", "db-b", "db-c"));
  EXPECT_THAT(names(parse_ini("n[1:10:3]\n", "inv").hosts), ElementsAre("n1", "n4", "n7", "n10"));
  EXPECT_THAT(names(parse_ini("n[:2]\n", "inv").hosts), ElementsAre("n0", "n1", "n2"));
  EXPECT_THAT(names(parse_ini("r[1:2]n[a:b]\n", "inv").hosts), ElementsAre("r1na", "r1nb", "r2na", "r2nb"));
  const Inventory ported = parse_ini("x[1:2]:2200\n", "inv");
  EXPECT_THAT(names(ported.hosts), ElementsAre("x1", "x2"));
  EXPECT_EQ(ported.hosts[1].port, 2200);
}

TEST(InventoryIni, PrecedenceHostThenDeepestGroupThenAll) {
  const Inventory inventory = parse_ini(
      "[all:vars]\n"
      "level=all\n"
      "only_all=1\n"
      "[region:children]\n"
      "dc\n"
      "[dc:children]\n"
      "rack\n"
      "[region:vars]\n"
      "level=region\n"
      "[dc:vars]\n"
      "level=dc\n"
      "[rack]\n"
      "h1\n"
      "h2 level=host\n"
      "[rack:vars]\n"
      "level=rack\n"
      "[dc]\n"
      "h3\n",
      "inv");
  EXPECT_EQ(host(inventory, "h1").vars.at("level"), "rack");
  EXPECT_EQ(host(inventory, "h1").vars.at("only_all"), "1");
  EXPECT_EQ(host(inventory, "h2").vars.at("level"), "host");
  EXPECT_EQ(host(inventory, "h3").vars.at("level"), "dc");
  EXPECT_THAT(host(inventory, "h1").groups, ElementsAre("dc", "rack", "region", "all"));
}

TEST(InventoryIni, EqualDepthGroupsApplyByName) {
  // Two top groups: the later name wins, whatever the file order.
  const Inventory flat = parse_ini("[beta]\nh\n[alpha]\nh\n[beta:vars]\nx=beta\n[alpha:vars]\nx=alpha\n", "inv");
  EXPECT_EQ(host(flat, "h").vars.at("x"), "beta");
  // Depth first: under gamma, alpha is deeper than beta.
  const Inventory nested =
      parse_ini("[beta]\nh\n[alpha]\nh\n[beta:vars]\nx=beta\n[alpha:vars]\nx=alpha\n[gamma:children]\nalpha\n", "inv");
  EXPECT_EQ(host(nested, "h").vars.at("x"), "alpha");
}

TEST(InventoryIni, AGroupUnderTwoParentsTakesTheDeeperDepth) {
  // c is under a (depth 2) and under b, itself under a (depth 3), so c beats b.
  const Inventory inventory =
      parse_ini("[a:children]\nb\nc\n[b:children]\nc\n[c]\nh\n[b]\n[b:vars]\nx=b\n[c:vars]\nx=c\n", "inv");
  EXPECT_EQ(host(inventory, "h").vars.at("x"), "c");
}

TEST(InventoryIni, ConnectionVariablesAndTheirSpellings) {
  const Inventory inventory = parse_ini(
      "a ansible_private_key_file=~/.ssh/a ansible_become=True\n"
      "b ansible_ssh_private_key_file=/keys/b ansible_private_key_file=/keys/other ansible_become=0\n"
      "c ansible_become=no ansible_ssh_host=10.1.1.1 ansible_ssh_port=2022 ansible_ssh_user=root\n"
      "d ansible_become=FALSE ansible_port=65535\n",
      "inv");
  EXPECT_EQ(host(inventory, "a").identity, expanded("~/.ssh/a"));
  EXPECT_EQ(host(inventory, "a").become, true);
  EXPECT_EQ(host(inventory, "b").identity, "/keys/b") << "ansible_ssh_private_key_file first";
  EXPECT_EQ(host(inventory, "b").become, false);
  EXPECT_EQ(host(inventory, "c").become, false);
  EXPECT_EQ(host(inventory, "c").address, "10.1.1.1");
  EXPECT_EQ(host(inventory, "c").port, 2022);
  EXPECT_EQ(host(inventory, "c").user, "root");
  EXPECT_EQ(host(inventory, "d").become, false);
  EXPECT_EQ(host(inventory, "d").port, 65535);
}

TEST(InventoryIni, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(ini_error("[web]\nweb1 a=1\nweb2 oops\n"), "inv:3: expected key=value after host web2, got 'oops'");
  EXPECT_EQ(ini_error("[web]\nweb2 =x\n"), "inv:2: expected key=value after host web2, got '=x'");
  EXPECT_EQ(ini_error("[web:vars]\nnovalue\n[web]\n"), "inv:2: expected key=value in [web:vars], got 'novalue'");
  EXPECT_EQ(ini_error("web1 a=\"open\n"), "inv:1: unclosed quote in host line 'web1 a=\"open'");
  EXPECT_EQ(ini_error("[web\n"),
            "inv:1: bad section header '[web' (expected [group], [group:vars] or [group:children])");
  EXPECT_EQ(ini_error("[my web]\n"),
            "inv:1: bad section header '[my web]': the group name must be a word without ':', '[' or ']'");
  EXPECT_EQ(ini_error("[web:child]\n"),
            "inv:1: section [web:child] has an unknown type 'child' (expected hosts, vars or children)");
  EXPECT_EQ(ini_error("[web:]\n"), "inv:1: section [web:] has an unknown type '' (expected hosts, vars or children)");
  EXPECT_EQ(ini_error("[web:children]\nweb two\n"), "inv:2: expected a group name in [web:children], got 'web two'");
}

TEST(InventoryIni, AHostWithNoNameIsAnError) {
  EXPECT_EQ(ini_error("\n[web]\nansible_host=10.0.0.1\n"),
            "inv:3: a host with no name: a host line starts with the host, got 'ansible_host=10.0.0.1'");
  EXPECT_EQ(ini_error("\"\" a=1\n"), "inv:1: a host with no name: a host line starts with the host, got '\"\" a=1'");
  EXPECT_EQ(ini_error(":22\n"), "inv:1: a host with no name");
  EXPECT_EQ(ini_error("web1:\n"), "inv:1: host 'web1:' ends in ':' (a ':' must be followed by a port)");
}

TEST(InventoryIni, BadRanges) {
  EXPECT_EQ(ini_error("\nweb[3:1]\n"), "inv:2: bad host range '[3:1]' in 'web[3:1]': the begin is after the end");
  EXPECT_EQ(ini_error("web[01:100]\n"),
            "inv:1: bad host range '[01:100]' in 'web[01:100]': a zero-padded begin and the end must have the same "
            "width");
  EXPECT_EQ(ini_error("web[a:3]\n"),
            "inv:1: bad host range '[a:3]' in 'web[a:3]': the bounds must be two numbers or two letters");
  EXPECT_EQ(ini_error("web[1:]\n"), "inv:1: bad host range '[1:]' in 'web[1:]': no end value");
  EXPECT_EQ(ini_error("web[1]\n"), "inv:1: bad host range '[1]' in 'web[1]': expected [begin:end] or [begin:end:step]");
  EXPECT_EQ(ini_error("web[1:4:0]\n"),
            "inv:1: bad host range '[1:4:0]' in 'web[1:4:0]': the step must be a positive number");
  EXPECT_EQ(ini_error("web[1:4\n"), "inv:1: host range in 'web[1:4' has no closing ']'");
  EXPECT_EQ(ini_error("web1]\n"), "inv:1: host 'web1]': ']' without '['");
  EXPECT_EQ(ini_error("web1:4]\n"),
            "inv:1: host 'web1:4]': the text after ':' must be a port number (1-65535), got '4]'");
  EXPECT_EQ(ini_error("n[0:99999999]\n"),
            "inv:1: bad host range '[0:99999999]' in 'n[0:99999999]': more than 65536 names");
}

TEST(InventoryIni, UndeclaredGroupsAreErrorsAsInAnsible) {
  EXPECT_EQ(ini_error("[prod:children]\nweb\nwbe\n[web]\nw1\n"),
            "inv:3: [prod:children] names group 'wbe', which no [wbe] or [wbe:children] section declares");
  EXPECT_EQ(ini_error("[web]\nw1\n[wbe:vars]\nx=1\n"),
            "inv:3: [wbe:vars] for group 'wbe', which no [wbe] or [wbe:children] section declares");
  // Declared later, or by a children section, is fine; so are all and ungrouped.
  EXPECT_NO_THROW(parse_ini("[prod:children]\nweb\n[web:vars]\nx=1\n[web:children]\n[all:vars]\ny=2\n", "inv"));
  EXPECT_NO_THROW(parse_ini("[ungrouped:vars]\ny=2\n[all:children]\nprod\n[prod]\n", "inv"));
}

TEST(InventoryIni, ChildLoopsAreErrors) {
  EXPECT_EQ(ini_error("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n"),
            "inv:6: group 'a' as a child of 'c' makes a loop (c is already in a)");
  EXPECT_EQ(ini_error("[a:children]\na\n"), "inv:2: group 'a' as a child of 'a' makes a loop (a is already in a)");
  EXPECT_EQ(ini_error("[a:children]\nall\n"), "inv:2: group 'all' cannot be a child of 'a' (every group is in 'all')");
}

TEST(InventoryIni, BadPortAndBecomeNameTheLineThatSetThem) {
  EXPECT_EQ(ini_error("[web]\nweb1\n[web:vars]\nansible_port=70000\n"),
            "inv:4: host web1: ansible_port '70000' is not a port number (1-65535)");
  EXPECT_EQ(ini_error("web1 ansible_port=ssh\n"),
            "inv:1: host web1: ansible_port 'ssh' is not a port number (1-65535)");
  EXPECT_EQ(ini_error("web1 ansible_port=0\n"), "inv:1: host web1: ansible_port '0' is not a port number (1-65535)");
  EXPECT_EQ(ini_error("web1:99999\n"), "inv:1: host web1: ansible_port '99999' is not a port number (1-65535)");
  EXPECT_EQ(ini_error("\nweb1 ansible_become=maybe\n"),
            "inv:2: host web1: ansible_become 'maybe' is not a boolean (true or false)");
}

// --- YAML -----------------------------------------------------------------------------------

TEST(InventoryYaml, AllWithHostsVarsAndNestedChildren) {
  const Inventory inventory = parse_yaml(
      "all:\n"                               // 1
      "  hosts:\n"                           // 2
      "    jump:\n"                          // 3
      "  vars:\n"                            // 4
      "    ansible_user: admin\n"            // 5
      "  children:\n"                        // 6
      "    prod:\n"                          // 7
      "      vars: {ansible_become: yes}\n"  // 8
      "      children:\n"                    // 9
      "        web:\n"                       // 10
      "          hosts:\n"                   // 11
      "            web[1:2]:2022:\n"         // 12
      "              ansible_user: www\n"    // 13
      "        empty:\n",                    // 14
      "inv.yml");
  EXPECT_THAT(names(inventory.hosts), ElementsAre("jump", "web1", "web2"));
  EXPECT_THAT(host(inventory, "jump").groups, ElementsAre("ungrouped", "all"));
  EXPECT_EQ(host(inventory, "jump").user, "admin");
  EXPECT_EQ(host(inventory, "jump").source, "inv.yml:3");
  const auto& web2 = host(inventory, "web2");
  EXPECT_EQ(web2.user, "www");
  EXPECT_EQ(web2.port, 2022);
  EXPECT_EQ(web2.become, true);
  EXPECT_EQ(web2.vars.at("ansible_become"), "yes") << "scalars keep their text";
  EXPECT_THAT(web2.groups, ElementsAre("prod", "web", "all"));
  EXPECT_EQ(web2.source, "inv.yml:12");
  EXPECT_THAT(inventory.groups.at("empty"), IsEmpty());
  EXPECT_THAT(inventory.groups.at("prod"), ElementsAre("web1", "web2"));
}

TEST(InventoryYaml, TopLevelGroupsBesidesAll) {
  const Inventory inventory = parse_yaml(
      "---\n"
      "web:\n"
      "  hosts:\n"
      "    w1: {ansible_port: 2200}\n"
      "db:\n"
      "  hosts: {d1: , w1: }\n"
      "  vars: {ansible_port: 5432}\n"
      "all:\n"
      "  vars: {ansible_port: 22}\n",
      "inv.yml");
  EXPECT_THAT(names(inventory.hosts), ElementsAre("w1", "d1"));
  EXPECT_EQ(host(inventory, "w1").port, 2200);
  EXPECT_EQ(host(inventory, "d1").port, 5432);
  EXPECT_THAT(host(inventory, "w1").groups, ElementsAre("db", "web", "all"));
}

TEST(InventoryYaml, ValuesKeepTheirTextListsAndMapsInFlowStyle) {
  const Inventory inventory = parse_yaml(
      "all:\n"
      "  hosts:\n"
      "    h:\n"
      "      flag: no\n"
      "      octal: 0022\n"
      "      quoted: \"a: b\"\n"
      "      nothing:\n"
      "      list: [1, two]\n"
      "      map: {k: v}\n",
      "inv.yml");
  const auto& vars = host(inventory, "h").vars;
  EXPECT_EQ(vars.at("flag"), "no");
  EXPECT_EQ(vars.at("octal"), "0022");
  EXPECT_EQ(vars.at("quoted"), "a: b");
  EXPECT_EQ(vars.at("nothing"), "");
  EXPECT_EQ(vars.at("list"), "[1, two]");
  EXPECT_EQ(vars.at("map"), "{k: v}");
}

TEST(InventoryYaml, SyntaxErrorsNameTheLine) {
  const std::string message = yaml_error("all:\n  hosts:\n    web1: {a: 1\n    web2:\n");
  EXPECT_EQ(message.rfind("inv.yml:4: ", 0), 0U) << message;
  try {
    parse_yaml("all:\n  hosts: [\n", "inv.yml");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().file, "inv.yml");
    EXPECT_EQ(e.where().line, 3) << e.what();
  }
}

TEST(InventoryYaml, StructureErrorsNameTheLine) {
  EXPECT_EQ(yaml_error(""), "inv.yml: the YAML inventory is empty");
  EXPECT_EQ(yaml_error("- web1\n- web2\n"),
            "inv.yml:1: a YAML inventory is a mapping of groups (all: hosts, vars, children)");
  EXPECT_EQ(yaml_error("all:\n  host:\n    web1:\n"),
            "inv.yml:2: group 'all' has an unknown key 'host' (a group holds hosts, vars and children)");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    - web1\n"),
            "inv.yml:3: the hosts of group 'all' must be a mapping (name: variables or nothing)");
  EXPECT_EQ(yaml_error("web: [a]\n"), "inv.yml:1: group 'web' must be a mapping with hosts, vars and children");
  EXPECT_EQ(yaml_error("all:\n  vars: [a]\n"), "inv.yml:2: the vars of group 'all' must be a mapping (key: value)");
  EXPECT_EQ(yaml_error("all:\n  children: [web]\n"),
            "inv.yml:2: the children of group 'all' must be a mapping (group: hosts, vars, children)");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    web1: x\n"),
            "inv.yml:3: host web1: its variables must be a mapping (key: value)");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    \"\":\n"), "inv.yml:3: a host in group 'all' with no name");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    ~: {a: 1}\n"), "inv.yml:3: a host in group 'all' with no name");
  EXPECT_EQ(yaml_error("all:\n  hosts:\n    web[2:1]:\n"),
            "inv.yml:3: bad host range '[2:1]' in 'web[2:1]': the begin is after the end");
}

TEST(InventoryYaml, LoopsAndBadValuesNameTheLine) {
  EXPECT_EQ(yaml_error("a:\n  children:\n    b:\n      children:\n        a:\n"),
            "inv.yml:5: group 'a' as a child of 'b' makes a loop (b is already in a)");
  EXPECT_EQ(yaml_error("all:\n  children:\n    web:\n      hosts:\n        w1:\n          ansible_port: \"22 \"\n"),
            "inv.yml:6: host w1: ansible_port '22 ' is not a port number (1-65535)");
  EXPECT_EQ(yaml_error("all:\n  vars:\n    ansible_become: sometimes\n  hosts:\n    w1:\n"),
            "inv.yml:3: host w1: ansible_become 'sometimes' is not a boolean (true or false)");
}

// --- load_inventory -------------------------------------------------------------------------

TEST(InventoryLoad, CommaListsAreHostsOnTheCommandLine) {
  const Inventory one = load_inventory("web1,");
  EXPECT_EQ(one.source, "command line");
  EXPECT_THAT(names(one.hosts), ElementsAre("web1"));
  EXPECT_EQ(one.hosts[0].source, "command line");
  EXPECT_THAT(one.hosts[0].groups, ElementsAre("ungrouped", "all"));

  const Inventory list = load_inventory(" web1 , alice@web2,web3:2222,,web1");
  EXPECT_THAT(names(list.hosts), ElementsAre("web1", "alice@web2", "web3"));
  EXPECT_EQ(list.hosts[1].address, "alice@web2");
  EXPECT_EQ(list.hosts[1].user, "");
  EXPECT_EQ(list.hosts[2].port, 2222);
  EXPECT_EQ(list.hosts[2].address, "web3");

  EXPECT_EQ(error_of([] { load_inventory("web1:ssh,web2"); }),
            "command line: host 'web1:ssh': the text after ':' must be a port number (1-65535), got 'ssh'");
  EXPECT_EQ(error_of([] { load_inventory("web1:0,"); }),
            "command line: host web1: ansible_port '0' is not a port number (1-65535)");
}

TEST(InventoryLoad, UnreadableFiles) {
  try {
    load_inventory("/nonexistent/hosts");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_STREQ(e.what(), "cannot read inventory /nonexistent/hosts: No such file or directory");
  }
  TempDir dir("inventory-test");
  const std::string directory = dir.write("x", "");
  std::filesystem::remove(directory);
  std::filesystem::create_directory(directory);
  EXPECT_EQ(error_of([&] { load_inventory(directory); }), "cannot read inventory " + directory + ": Is a directory");
}

TEST(InventoryLoad, ChoosesYamlOrIniByTheFirstLine) {
  TempDir dir("inventory-test");
  const auto groups_of = [](const std::string& file) {
    std::vector<std::string> out;
    for (const auto& [name, hosts] : load_inventory(file).groups) out.push_back(name);
    return out;
  };
  EXPECT_THAT(groups_of(dir.write("dashes", "# yaml\n---\nweb:\n  hosts: {w1: }\n")), ElementsAre("all", "web"));
  EXPECT_THAT(groups_of(dir.write("all", "\nall: {children: {web: {hosts: {w1: }}}}\n")), ElementsAre("all", "web"));
  EXPECT_THAT(groups_of(dir.write("key", "webservers:   # the web tier\n  hosts:\n    w1:\n")),
              ElementsAre("all", "webservers"));
  EXPECT_THAT(groups_of(dir.write("ini", "; ini\nw0\n[web]\nw1\n")), ElementsAre("all", "ungrouped", "web"));
  EXPECT_THAT(groups_of(dir.write("hosts.yml", "[web]\nw1\n")), ElementsAre("all", "web"))
      << "the content decides, not the name";
  EXPECT_THAT(groups_of(dir.write("bare", "w1\nw2:2222\n")), ElementsAre("all", "ungrouped"));
  // A [section] line makes it INI even when the first line looks like a YAML key.
  const std::string mixed = dir.write("mixed", "web:\n[web]\nw1\n");
  EXPECT_EQ(error_of([&] { load_inventory(mixed); }),
            mixed + ":1: host 'web:' ends in ':' (a ':' must be followed by a port)");
  // A file whose name has a comma is still a file.
  EXPECT_THAT(names(load_inventory(dir.write("a,b", "w9\n")).hosts), ElementsAre("w9"));
}

TEST(InventoryLoad, YamlErrorsNameTheFile) {
  TempDir dir("inventory-test");
  const std::string file = dir.write("bad.yml", "all:\n  hosts:\n    w1:\n  vars:\n    ansible_port: x\n");
  EXPECT_EQ(error_of([&] { load_inventory(file); }),
            file + ":5: host w1: ansible_port 'x' is not a port number (1-65535)");
}

// --- select_hosts ---------------------------------------------------------------------------

class InventorySelect : public ::testing::Test {
 protected:
  const Inventory inventory = load_inventory(kExamples + "/inventory/hosts.ini");

  std::vector<std::string> select(const std::string& pattern) { return names(select_hosts(inventory, pattern)); }
  std::string select_error(const std::string& pattern) {
    return error_of([&] { select_hosts(inventory, pattern); });
  }
};

TEST_F(InventorySelect, EmptyAllAndStarSelectEveryHost) {
  for (const char* pattern : {"", "all", "*", " all "}) EXPECT_EQ(select(pattern).size(), 6U) << pattern;
  EXPECT_EQ(select_hosts(inventory, "")[0].name, "bastion.example.com");
}

TEST_F(InventorySelect, NamesGroupsAndGlobs) {
  EXPECT_THAT(select("db1.example.com"), ElementsAre("db1.example.com"));
  EXPECT_THAT(select("db"), ElementsAre("db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("ungrouped"), ElementsAre("bastion.example.com"));
  EXPECT_THAT(select("web0*"), ElementsAre("web01.example.com", "web02.example.com", "web03.example.com"));
  EXPECT_THAT(select("*.example.com").size(), 6U);
  EXPECT_THAT(select("web0[13].example.com"), ElementsAre("web01.example.com", "web03.example.com"));
  EXPECT_THAT(select("db?.example.com"), ElementsAre("db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("pro*"), ElementsAre("web01.example.com", "web02.example.com", "web03.example.com",
                                          "db1.example.com", "db2.example.com"))
      << "globs match group names too";
}

TEST_F(InventorySelect, RegexesMatchFromTheStartAsAnsibleDoes) {
  EXPECT_THAT(select("~(web|db)0?1"), ElementsAre("web01.example.com", "db1.example.com"));
  EXPECT_THAT(select("~db\\d\\.example"), ElementsAre("db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("~d.*"), ElementsAre("db1.example.com", "db2.example.com")) << "the group db and the hosts";
  EXPECT_EQ(select_error("~example"),
            "--limit: '~example' matches no host or group (groups: all, db, prod, ungrouped, web)");
  EXPECT_EQ(select_error("~web[").rfind("--limit: bad regular expression '~web[': ", 0), 0U);
}

TEST_F(InventorySelect, UnionsIntersectionsAndExclusions) {
  EXPECT_THAT(select("db,web01.example.com"), ElementsAre("web01.example.com", "db1.example.com", "db2.example.com"))
      << "inventory order";
  EXPECT_THAT(select("db:web01.example.com"), ElementsAre("web01.example.com", "db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("web:web01.example.com:web0*"),
              ElementsAre("web01.example.com", "web02.example.com", "web03.example.com"))
      << "no duplicates";
  EXPECT_THAT(select("prod:!web"), ElementsAre("db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("!prod"), ElementsAre("bastion.example.com")) << "only exclusions start from all";
  EXPECT_THAT(select("&db"), ElementsAre("db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("prod:&~.*1"), ElementsAre("web01.example.com", "db1.example.com"));
  EXPECT_THAT(select("!db2.example.com, prod, &db"), ElementsAre("db1.example.com"))
      << "unions, then intersections, then exclusions, whatever the order";
}

TEST_F(InventorySelect, Subscripts) {
  EXPECT_THAT(select("web[0]"), ElementsAre("web01.example.com"));
  EXPECT_THAT(select("web[-1]"), ElementsAre("web03.example.com"));
  EXPECT_THAT(select("web[1:2]"), ElementsAre("web02.example.com", "web03.example.com"));
  EXPECT_THAT(select("prod[3:]"), ElementsAre("db1.example.com", "db2.example.com"));
  EXPECT_THAT(select("prod[0:1],db[1]"), ElementsAre("web01.example.com", "web02.example.com", "db2.example.com"));
  EXPECT_EQ(select_error("prod[:1]"),
            "--limit: 'prod[:1]' matches no host or group (groups: all, db, prod, ungrouped, web)")
      << "not a subscript in Ansible either: a glob that matches nothing";
}

TEST_F(InventorySelect, PartsThatMatchNothing) {
  EXPECT_EQ(select_error("webz"), "--limit: 'webz' matches no host or group (groups: all, db, prod, ungrouped, web)");
  EXPECT_EQ(select_error("web,webz"),
            "--limit: 'webz' matches no host or group (groups: all, db, prod, ungrouped, web)");
  EXPECT_THAT(select("web:!webz:!nothing*"), ElementsAre("web01.example.com", "web02.example.com", "web03.example.com"))
      << "an exclusion that matches nothing is fine";
  EXPECT_EQ(select_error("db:&web"), "--limit db:&web selects no hosts");
  EXPECT_EQ(select_error("web:&webz"), "--limit web:&webz selects no hosts");
  EXPECT_EQ(select_error("!all"), "--limit !all selects no hosts");
  EXPECT_EQ(select_error("web:!"), "--limit: '!' names nothing after '!'");
  EXPECT_EQ(select_error("web[7]"),
            "--limit: 'web[7]' matches no host or group (groups: all, db, prod, ungrouped, web)");
}

TEST(InventorySelectEmpty, AnEmptyInventorySelectsNothing) {
  const Inventory empty = parse_ini("# nothing yet\n[web]\n", "inv");
  EXPECT_EQ(error_of([&] { select_hosts(empty, ""); }), "inventory inv has no hosts");
  EXPECT_EQ(error_of([&] { select_hosts(empty, "all"); }), "--limit all selects no hosts");
  EXPECT_EQ(error_of([&] { select_hosts(empty, "web"); }),
            "--limit: 'web' matches no host or group (groups: all, web)");
}

}  // namespace
}  // namespace sshdctl::fleet

// Ansible INI inventories (`sshdctl -i hosts.ini`): fleet::parse_ini, and the --limit patterns
// applied to what it gives; also the comma list of the command line ("web1,web2:2222,").
//
// Properties: an Error is bad input naming FILE:LINE; an inventory lists each host once, every
// host in "all", every group member a host, and "all" selects every host.
#include "../fuzz_support.h"
#include "../inventory_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sshdctl;
  const std::string text = fuzz::bytes(data, size);
  const std::string source = "fuzz/hosts.ini";
  const int lines = static_cast<int>(text::lines(text).size());
  fleet::Inventory inventory;
  if (const auto e = fuzz::outcome("parse_ini", [&] { inventory = fleet::parse_ini(text, source); })) {
    fuzz::check_inventory_error(*e, source, lines);
  } else {
    fuzz::check(inventory.source == source, "the inventory names its file");
    fuzz::check_inventory(inventory);
  }
  // A one-line input with a comma is a command-line host list (it names no file: no '/').
  if (text.find(',') != std::string::npos && text.find_first_of("/\n") == std::string::npos &&
      text.find('\0') == std::string::npos) {
    if (!fuzz::outcome("load_inventory (list)", [&] { inventory = fleet::load_inventory(text); }))
      fuzz::check_inventory(inventory);
  }
  return 0;
}

// Ansible YAML inventories (`sshdctl -i hosts.yml`): fleet::parse_yaml, and the --limit
// patterns applied to what it gives.
//
// Properties: an Error is bad input naming FILE:LINE (yaml-cpp's own exceptions must not get
// through); an inventory lists each host once, every host in "all", every group member a host,
// and "all" selects every host.
#include "../fuzz_support.h"
#include "../inventory_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sshdctl;
  const std::string text = fuzz::bytes(data, size);
  const std::string source = "fuzz/hosts.yml";
  const int lines = static_cast<int>(text::lines(text).size());
  fleet::Inventory inventory;
  if (const auto e = fuzz::outcome("parse_yaml", [&] { inventory = fleet::parse_yaml(text, source); })) {
    fuzz::check_inventory_error(*e, source, lines);
    return 0;
  }
  fuzz::check(inventory.source == source, "the inventory names its file");
  fuzz::check_inventory(inventory);
  return 0;
}

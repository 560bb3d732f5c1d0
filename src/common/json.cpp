#include "sshdctl/common/json.h"

#include <cstdio>
#include <stdexcept>

namespace sshdctl {

Json Json::strings(const std::vector<std::string>& items) {
  Array a;
  a.reserve(items.size());
  for (const auto& item : items) a.emplace_back(item);
  return Json(std::move(a));
}

Json& Json::operator[](std::string_view key) {
  auto* object = std::get_if<Object>(&value_);
  if (object == nullptr) throw std::logic_error("Json: not an object");
  for (auto& [k, v] : *object)
    if (k == key) return v;
  object->emplace_back(std::string(key), Json());
  return object->back().second;
}

void Json::push_back(Json item) {
  auto* array = std::get_if<Array>(&value_);
  if (array == nullptr) throw std::logic_error("Json: not an array");
  array->push_back(std::move(item));
}

std::string json_escape(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

void Json::dump_to(std::string& out) const {
  if (std::holds_alternative<std::nullptr_t>(value_)) {
    out += "null";
  } else if (const auto* b = std::get_if<bool>(&value_)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<std::int64_t>(&value_)) {
    out += std::to_string(*i);
  } else if (const auto* s = std::get_if<std::string>(&value_)) {
    out += json_escape(*s);
  } else if (const auto* a = std::get_if<Array>(&value_)) {
    out += '[';
    for (std::size_t k = 0; k < a->size(); ++k) {
      if (k > 0) out += ',';
      (*a)[k].dump_to(out);
    }
    out += ']';
  } else if (const auto* o = std::get_if<Object>(&value_)) {
    out += '{';
    for (std::size_t k = 0; k < o->size(); ++k) {
      if (k > 0) out += ',';
      out += json_escape((*o)[k].first);
      out += ':';
      (*o)[k].second.dump_to(out);
    }
    out += '}';
  }
}

}  // namespace sshdctl

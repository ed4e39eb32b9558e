#include "config/toml_reader.h"

#include <algorithm>
#include <cassert>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace upcheck::config {
namespace {

constexpr size_t kMaxQuoted = 64;

// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string ExpectedMessage(std::string_view expected, const toml::node& got) {
  return fmt::format("expected {}, got {}", expected, Describe(got));
}

}  // namespace

Diagnostics::Entry Diagnostics::Format(const toml::source_region& where, std::string_view label,
                                       std::string_view key_path, std::string_view message) const {
  std::string text = file_;
  if (where.begin.line > 0) {
    text += fmt::format(":{}:{}", where.begin.line, where.begin.column);
  }
  text += ": ";
  text += label;
  if (!key_path.empty()) {
    text += key_path;
    text += ": ";
  }
  text += message;
  return Entry{where.begin.line, where.begin.column, std::move(text)};
}

std::vector<const Diagnostics::Entry*> Diagnostics::Sorted(const std::vector<Entry>& entries) {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries.size());
  for (const Entry& e : entries) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return a->line != b->line ? a->line < b->line : a->column < b->column;
  });
  return sorted;
}

void Diagnostics::Report(const toml::source_region& where, std::string_view key_path,
                         std::string_view message) {
  errors_.push_back(Format(where, "", key_path, message));
}

void Diagnostics::Warn(const toml::source_region& where, std::string_view key_path,
                       std::string_view message) {
  warnings_.push_back(Format(where, "warning: ", key_path, message));
}

Status Diagnostics::ToStatus() const {
  assert(!errors_.empty());
  std::string message;
  for (const Entry* e : Sorted(errors_)) {
    if (!message.empty()) message += '\n';
    message += e->text;
  }
  return Status::Error(std::move(message));
}

std::vector<std::string> Diagnostics::Warnings() const {
  std::vector<std::string> lines;
  for (const Entry* e : Sorted(warnings_)) lines.push_back(e->text);
  return lines;
}

std::string Quote(std::string_view s) {
  if (s.size() <= kMaxQuoted) return TomlString(s);
  size_t cut = kMaxQuoted;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return TomlString(s.substr(0, cut)) + "...";
}

std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string Describe(const toml::node& node) {
  std::ostringstream text;
  switch (node.type()) {
    case toml::node_type::string:
      return "string " + Quote(node.as_string()->get());
    case toml::node_type::integer:
      return fmt::format("integer {}", node.as_integer()->get());
    case toml::node_type::floating_point:
      text << "float " << *node.as_floating_point();
      return std::move(text).str();
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "boolean true" : "boolean false";
    case toml::node_type::date:
      text << "date " << *node.as_date();
      return std::move(text).str();
    case toml::node_type::time:
      text << "time " << *node.as_time();
      return std::move(text).str();
    case toml::node_type::date_time:
      text << "date-time " << *node.as_date_time();
      return std::move(text).str();
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string RangeMessage(std::string_view what, int64_t min, int64_t max, int64_t got) {
  if (got < min) return fmt::format("{} must be >= {}, got {}", what, min, got);
  return fmt::format("{} must be <= {}, got {}", what, max, got);
}

std::optional<std::string> ReadString(const toml::node& node, std::string_view path,
                                      Diagnostics& diag) {
  if (const auto* s = node.as_string()) return s->get();
  diag.Report(node.source(), path, ExpectedMessage("a string", node));
  return std::nullopt;
}

std::optional<int64_t> ReadInteger(const toml::node& node, std::string_view path,
                                   std::string_view what, int64_t min, int64_t max,
                                   Diagnostics& diag) {
  const auto* i = node.as_integer();
  if (i == nullptr) {
    diag.Report(node.source(), path, ExpectedMessage("an integer", node));
    return std::nullopt;
  }
  const int64_t value = i->get();
  if (value < min || value > max) {
    diag.Report(node.source(), path, RangeMessage(what, min, max, value));
    return std::nullopt;
  }
  return value;
}

void TableReader::RejectUnknownKeys(std::initializer_list<std::string_view> allowed) {
  for (auto&& [key, value] : table_) {
    const std::string_view name = key.str();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string_view nearest;
    size_t best = 3;  // suggest only close matches: typos, not different words
    for (const std::string_view candidate : allowed) {
      const size_t d = EditDistance(name, candidate);
      if (d < best) {
        best = d;
        nearest = candidate;
      }
    }
    std::string hint;
    if (!nearest.empty()) {
      hint = fmt::format(" (did you mean \"{}\"?)", nearest);
      suggested_.emplace_back(nearest);
    } else {
      hint = fmt::format(" (allowed: {})", fmt::join(allowed, ", "));
    }
    // A key's own position is the most precise; fall back to its value's.
    const toml::source_region& where = key.source().begin.line > 0 ? key.source() : value.source();
    diag_.Report(where, path_, fmt::format("unknown key {}{}", Quote(name), hint));
  }
}

std::string TableReader::PathOf(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return fmt::format("{}.{}", path_, key);
}

bool TableReader::Require(std::string_view key) {
  if (table_.contains(key)) return true;
  // "unknown key "tpye" (did you mean "type"?)" already says it.
  if (Suggested(key)) return false;
  ErrorAtTable(fmt::format("missing required key \"{}\"", key));
  return false;
}

bool TableReader::Suggested(std::string_view key) const {
  return std::find(suggested_.begin(), suggested_.end(), key) != suggested_.end();
}

std::optional<std::string> TableReader::String(std::string_view key) {
  const toml::node* node = Get(key);
  if (node == nullptr) return std::nullopt;
  return ReadString(*node, PathOf(key), diag_);
}

std::optional<bool> TableReader::Bool(std::string_view key) {
  const toml::node* node = Get(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* b = node->as_boolean()) return b->get();
  ErrorAt(key, ExpectedMessage("a boolean (true or false)", *node));
  return std::nullopt;
}

std::optional<int64_t> TableReader::Integer(std::string_view key, int64_t min, int64_t max) {
  const toml::node* node = Get(key);
  if (node == nullptr) return std::nullopt;
  return ReadInteger(*node, PathOf(key), key, min, max, diag_);
}

const toml::table* TableReader::Table(std::string_view key) {
  const toml::node* node = Get(key);
  if (node == nullptr) return nullptr;
  if (const auto* t = node->as_table()) return t;
  ErrorAt(key, ExpectedMessage("a table", *node));
  return nullptr;
}

const toml::array* TableReader::Array(std::string_view key) {
  const toml::node* node = Get(key);
  if (node == nullptr) return nullptr;
  if (const auto* a = node->as_array()) return a;
  ErrorAt(key, ExpectedMessage("an array", *node));
  return nullptr;
}

void TableReader::ErrorAt(std::string_view key, std::string_view message) {
  const toml::node* node = Get(key);
  assert(node != nullptr);
  diag_.Report(node->source(), PathOf(key), message);
}

void TableReader::ErrorAtTable(std::string_view message) {
  diag_.Report(table_.source(), path_, message);
}

void TableReader::WarnAt(std::string_view key, std::string_view message) {
  const toml::node* node = Get(key);
  assert(node != nullptr);
  diag_.Warn(node->source(), PathOf(key), message);
}

void TableReader::WarnAtTable(std::string_view message) {
  diag_.Warn(table_.source(), path_, message);
}

}  // namespace upcheck::config

// TableReader: typed, position-aware reading of one toml++ table for the config parser.
//
// Every problem goes to a Diagnostics sink as "file:line:col: key.path: message" instead of
// stopping the parse, so one run shows the user every mistake in the file. Internal to
// lib/src/config; single-threaded; the table must outlive the reader.
#ifndef UPCHECK_CONFIG_TOML_READER_H_
#define UPCHECK_CONFIG_TOML_READER_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/toml_reader.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "upcheck/status.h"

namespace upcheck::config {

// Collects errors and warnings; gives each back sorted by position in the file. A warning
// reads like an error with "warning: " after the position, as compilers print them.
class Diagnostics {
 public:
  explicit Diagnostics(std::string_view file) : file_(file) {}

  // `key_path` may be empty (an error about the file as a whole), and so may `where`.
  void Report(const toml::source_region& where, std::string_view key_path,
              std::string_view message);
  void Warn(const toml::source_region& where, std::string_view key_path, std::string_view message);
  bool empty() const { return errors_.empty(); }
  // Every error in file order, one per line. REQUIRES: !empty()
  Status ToStatus() const;
  // Every warning in file order.
  std::vector<std::string> Warnings() const;

 private:
  struct Entry {
    uint32_t line;
    uint32_t column;
    std::string text;
  };
  Entry Format(const toml::source_region& where, std::string_view label, std::string_view key_path,
               std::string_view message) const;
  static std::vector<const Entry*> Sorted(const std::vector<Entry>& entries);

  std::string file_;
  std::vector<Entry> errors_;
  std::vector<Entry> warnings_;
};

// `s` as a TOML basic string, quotes included: CR, LF, '"' and '\' are escaped as \r, \n, \"
// and \\, other control characters as \uXXXX. Valid TOML (DumpConfig uses it).
std::string TomlString(std::string_view s);
// TomlString() for messages: cut after 64 bytes, with "..." after the closing quote.
std::string Quote(std::string_view s);
// A value for messages: `string "3"`, `integer 3`, `float 2.5`, `boolean true`, `an array`,
// `a table`, `date 2024-01-02`.
std::string Describe(const toml::node& node);
// "fall must be >= 0, got -1" or "workers must be <= 1024, got 2000", for a value outside
// min..max.
std::string RangeMessage(std::string_view what, int64_t min, int64_t max, int64_t got);

inline constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

// Checks a single node; `path` names it in messages. Wrong types and out-of-range values are
// reported and give nullopt.
std::optional<std::string> ReadString(const toml::node& node, std::string_view path,
                                      Diagnostics& diag);
std::optional<int64_t> ReadInteger(const toml::node& node, std::string_view path,
                                   std::string_view what, int64_t min, int64_t max,
                                   Diagnostics& diag);

class TableReader {
 public:
  // `path` is the key path of `table`: "" for the root, "upstream[0].check" and so on.
  TableReader(const toml::table& table, std::string path, Diagnostics& diag)
      : table_(table), path_(std::move(path)), diag_(diag) {}

  const std::string& path() const { return path_; }
  Diagnostics& diag() { return diag_; }
  const toml::table& table() const { return table_; }

  // Reports every key not in `allowed`, suggesting the nearest allowed one. A key suggested
  // this way is then not also reported as missing by Require().
  void RejectUnknownKeys(std::initializer_list<std::string_view> allowed);
  // "upstream[0]" + "name" -> "upstream[0].name".
  std::string PathOf(std::string_view key) const;
  const toml::node* Get(std::string_view key) const { return table_.get(key); }
  // Reports `missing required key "name"` at the table when `key` is absent.
  bool Require(std::string_view key);
  // Whether RejectUnknownKeys() suggested `key` for a misspelt one (which then says it).
  bool Suggested(std::string_view key) const;

  // Each returns nullopt/nullptr when the key is absent (silently) or has the wrong type or
  // an out-of-range value (reported).
  std::optional<std::string> String(std::string_view key);
  std::optional<bool> Bool(std::string_view key);
  std::optional<int64_t> Integer(std::string_view key, int64_t min, int64_t max = kNoMax);
  const toml::table* Table(std::string_view key);
  const toml::array* Array(std::string_view key);

  // Reports `message` at the value of `key` (REQUIRES: present) or at the table itself.
  void ErrorAt(std::string_view key, std::string_view message);
  void ErrorAtTable(std::string_view message);
  // The same, as warnings.
  void WarnAt(std::string_view key, std::string_view message);
  void WarnAtTable(std::string_view message);

 private:
  const toml::table& table_;
  std::string path_;
  Diagnostics& diag_;
  std::vector<std::string> suggested_;
};

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_TOML_READER_H_

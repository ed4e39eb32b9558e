#include "upcheck/check_words.h"

#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace upcheck {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status Expected(std::string_view key, std::string_view what, std::string_view got) {
  return Status::Error("option " + Quoted(key) + ": expected " + std::string(what) + ", got " +
                       Quoted(got));
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

Status SetInteger(std::optional<int64_t>& field, std::string_view key, std::string_view value) {
  std::optional<int64_t> n = ParseInteger(value);
  if (!n) return Expected(key, "an integer", value);
  field = *n;
  return Status::Ok();
}

Status SetStatuses(CheckOptions& o, std::string_view value) {
  std::vector<double> statuses;
  for (size_t start = 0; start < value.size();) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::optional<int64_t> n = ParseInteger(value.substr(start, comma - start));
    if (!n) return Expected("valid_statuses", "a comma list of integers", value);
    statuses.push_back(static_cast<double>(*n));
    start = comma + 1;
    if (start == value.size()) return Expected("valid_statuses", "a comma list of integers", value);
  }
  o.valid_statuses = std::move(statuses);
  return Status::Ok();
}

// "h2,http/1.1": names split at commas; an empty name is refused here, the rest of the
// checking is Spawn's (CheckAlpnNames).
Status SetAlpn(CheckOptions& o, std::string_view value) {
  std::vector<std::string> names;
  for (size_t start = 0; start <= value.size();) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    if (comma == start) return Expected("alpn", "a comma list of protocol names", value);
    names.emplace_back(value.substr(start, comma - start));
    start = comma + 1;
  }
  o.alpn = std::move(names);
  return Status::Ok();
}

Status SetString(std::optional<std::string>& field, std::string_view value) {
  field = std::string(value);
  return Status::Ok();
}

Status SetBool(std::optional<bool>& field, std::string_view key, std::string_view value) {
  if (value != "true" && value != "false") return Expected(key, "true or false", value);
  field = value == "true";
  return Status::Ok();
}

Status SetOption(CheckOptions& o, std::string_view key, std::string_view value) {
  if (key == "type") return SetString(o.type, value);
  if (key == "http_req") return SetString(o.http_req, value);
  if (key == "host") return SetString(o.host, value);
  if (key == "ca_file") return SetString(o.ca_file, value);
  if (key == "tls_cert") return SetString(o.tls_cert, value);
  if (key == "tls_key") return SetString(o.tls_key, value);
  if (key == "tls_min_version") return SetString(o.tls_min_version, value);
  if (key == "alpn") return SetAlpn(o, value);
  if (key == "interval") return SetInteger(o.interval_ms, key, value);
  if (key == "timeout") return SetInteger(o.timeout_ms, key, value);
  if (key == "fall") return SetInteger(o.fall, key, value);
  if (key == "rise") return SetInteger(o.rise, key, value);
  if (key == "concurrency") return SetInteger(o.concurrency, key, value);
  if (key == "port") return SetInteger(o.port, key, value);
  if (key == "ssl_verify") return SetBool(o.ssl_verify, key, value);
  if (key == "valid_statuses") return SetStatuses(o, value);
  return Status::Error("unknown option " + Quoted(key));
}

}  // namespace

Result<CheckOptions> ParseCheckWords(std::span<const std::string_view> words) {
  CheckOptions options;
  std::set<std::string_view> seen;
  for (std::string_view word : words) {
    size_t eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Result<CheckOptions>::Error("expected key=value, got " + Quoted(word));
    }
    std::string_view key = word.substr(0, eq);
    if (!seen.insert(key).second) {
      return Result<CheckOptions>::Error("option " + Quoted(key) + " given twice");
    }
    if (Status st = SetOption(options, key, word.substr(eq + 1)); !st.ok()) return st;
  }
  return options;
}

}  // namespace upcheck

#include "upcheck/check_words.h"

#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "upcheck/size.h"

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

// "2xx,!503": rules split at commas, as strings; `expect_status=` alone is the empty list
// (Spawn refuses it with its own text), an empty rule between commas is refused here.
Status SetExpectStatus(CheckOptions& o, std::string_view value) {
  std::vector<std::string> rules;
  for (size_t start = 0; start < value.size();) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    if (comma == start || comma + 1 == value.size()) {
      return Expected("expect_status", "a comma list of rules", value);
    }
    rules.emplace_back(value.substr(start, comma - start));
    start = comma + 1;
  }
  o.expect_status = std::move(rules);
  return Status::Ok();
}

CheckRequest& RequestOf(CheckOptions& o) {
  if (!o.request) o.request.emplace();
  return *o.request;
}

// "Name: value", split at the first ':'; the value's leading spaces are the separator's.
Status AddRequestHeader(CheckOptions& o, std::string_view value) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos) {
    return Expected("request_header", "Name: value", value);
  }
  std::string_view header_value = value.substr(colon + 1);
  while (header_value.starts_with(' ') || header_value.starts_with('\t')) {
    header_value.remove_prefix(1);
  }
  RequestOf(o).headers.emplace_back(value.substr(0, colon), header_value);
  return Status::Ok();
}

// "Name:regex", split at the first ':'; the pattern is taken as is.
Status SetExpectHeader(CheckOptions& o, std::string_view value) {
  size_t colon = value.find(':');
  if (colon == std::string_view::npos) return Expected("expect_header", "Name:regex", value);
  o.expect_header =
      HeaderExpectation{std::string(value.substr(0, colon)), std::string(value.substr(colon + 1))};
  return Status::Ok();
}

// As [upstream.check] body_max and [shm] size: bytes, or with a k or m suffix.
Status SetBodyMax(CheckOptions& o, std::string_view value) {
  Result<size_t> bytes = ParseSize(value);
  if (!bytes) return Expected("body_max", "a size (bytes, or a number with k or m suffix)", value);
  o.body_max = static_cast<int64_t>(*bytes);  // at most 12 digits times 1m: no overflow
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

// Passive checks ([upstream.passive] in upcheckd): fall is at least 1, as there.
Status SetPassiveFall(CheckOptions& o, std::string_view value) {
  std::optional<int64_t> n = ParseInteger(value);
  if (!n || *n < 1) return Expected("passive_fall", "an integer >= 1", value);
  if (!o.passive) o.passive = PassiveOptions{};
  o.passive->fall = *n;
  return Status::Ok();
}

Status SetSkipWhenPassing(CheckOptions& o, std::string_view value) {
  std::optional<bool> skip;
  if (Status st = SetBool(skip, "skip_active_when_passing", value); !st) return st;
  if (!o.passive) o.passive = PassiveOptions{};
  o.passive->skip_active_when_passing = *skip;
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
  if (key == "fastinter") return SetInteger(o.fastinter_ms, key, value);
  if (key == "downinter") return SetInteger(o.downinter_ms, key, value);
  if (key == "jitter") return SetInteger(o.jitter, key, value);
  if (key == "timeout") return SetInteger(o.timeout_ms, key, value);
  if (key == "fall") return SetInteger(o.fall, key, value);
  if (key == "rise") return SetInteger(o.rise, key, value);
  if (key == "concurrency") return SetInteger(o.concurrency, key, value);
  if (key == "port") return SetInteger(o.port, key, value);
  if (key == "ssl_verify") return SetBool(o.ssl_verify, key, value);
  if (key == "valid_statuses") return SetStatuses(o, value);
  if (key == "request_method") return SetString(RequestOf(o).method, value);
  if (key == "request_path") return SetString(RequestOf(o).path, value);
  if (key == "request_host") return SetString(RequestOf(o).host, value);
  if (key == "request_header") return AddRequestHeader(o, value);
  if (key == "request_body") return SetString(RequestOf(o).body, value);
  if (key == "expect_status") return SetExpectStatus(o, value);
  if (key == "expect_header") return SetExpectHeader(o, value);
  if (key == "expect_body") return SetString(o.expect_body, value);
  if (key == "body_max") return SetBodyMax(o, value);
  if (key == "passive_fall") return SetPassiveFall(o, value);
  if (key == "skip_active_when_passing") return SetSkipWhenPassing(o, value);
  return Status::Error("unknown option " + Quoted(key));
}

// The one word that may be given more than once: each adds a header, in order.
constexpr std::string_view kRepeatable = "request_header";

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
    if (!seen.insert(key).second && key != kRepeatable) {
      return Result<CheckOptions>::Error("option " + Quoted(key) + " given twice");
    }
    if (Status st = SetOption(options, key, word.substr(eq + 1)); !st.ok()) return st;
  }
  return options;
}

}  // namespace upcheck

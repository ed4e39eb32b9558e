#include "config/check_http.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "check/http_check.h"
#include "upcheck/size.h"

namespace upcheck::config {

namespace {

using Member = std::optional<std::string> CheckRequest::*;

// Spawn's text for options that hold only the value being read: ValidateHttpKeys checks
// each key on its own, so the one value decides, and the error lands on its key.
std::optional<std::string> SpawnErrorOf(const CheckOptions& just_one) {
  Status st = ValidateHttpKeys(just_one);
  if (st) return std::nullopt;
  return st.message();
}

std::optional<std::string> ReadRequestPart(TableReader& r, std::string_view key, Member member) {
  std::optional<std::string> value = r.String(key);
  if (!value) return std::nullopt;
  CheckOptions just_one;
  just_one.request.emplace();
  (*just_one.request).*member = value;
  if (std::optional<std::string> error = SpawnErrorOf(just_one)) {
    r.ErrorAt(key, *error);
    return std::nullopt;
  }
  return value;
}

using Entries = std::vector<std::pair<const toml::key*, const toml::node*>>;

// toml++ keeps a table's keys sorted by name; the request sends them in the file's order.
Entries InFileOrder(const toml::table& table) {
  Entries entries;
  entries.reserve(table.size());
  for (auto&& [key, value] : table) entries.emplace_back(&key, &value);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const toml::source_position& pa = a.first->source().begin;
    const toml::source_position& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  return entries;
}

// Spawn's text for one header: a wrong name is reported at the name, a wrong value at it.
bool CheckHeader(TableReader& h, const toml::key& key, const toml::node& node,
                 const std::string& value) {
  const std::string name(key.str());
  CheckOptions just_one;
  just_one.request.emplace().headers = {{name, ""}};
  if (std::optional<std::string> error = SpawnErrorOf(just_one)) {
    h.diag().Report(key.source().begin.line > 0 ? key.source() : node.source(), h.PathOf(name),
                    *error);
    return false;
  }
  just_one.request->headers = {{name, value}};
  if (std::optional<std::string> error = SpawnErrorOf(just_one)) {
    h.ErrorAt(name, *error);
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> ReadHeaders(TableReader& r) {
  std::vector<std::pair<std::string, std::string>> headers;
  const toml::table* table = r.Table("headers");
  if (table == nullptr) return headers;
  TableReader h(*table, r.PathOf("headers"), r.diag());
  for (const auto& [key, node] : InFileOrder(*table)) {
    std::optional<std::string> value = ReadString(*node, h.PathOf(key->str()), h.diag());
    if (value && CheckHeader(h, *key, *node, *value)) {
      headers.emplace_back(key->str(), std::move(*value));
    }
  }
  return headers;
}

std::optional<CheckRequest> ReadRequest(TableReader& t) {
  const toml::table* table = t.Table("request");
  if (table == nullptr) return std::nullopt;
  TableReader r(*table, t.PathOf("request"), t.diag());
  r.RejectUnknownKeys({"method", "path", "host", "headers", "body"});
  CheckRequest request;
  request.method = ReadRequestPart(r, "method", &CheckRequest::method);
  request.path = ReadRequestPart(r, "path", &CheckRequest::path);
  request.host = ReadRequestPart(r, "host", &CheckRequest::host);
  request.headers = ReadHeaders(r);
  request.body = r.String("body");
  return request;
}

// A rule is a string; an integer is its code ("200").
std::optional<std::vector<std::string>> ReadExpectStatus(TableReader& t) {
  const toml::array* array = t.Array("expect_status");
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> rules;
  if (array->empty()) {
    CheckOptions just_one;
    just_one.expect_status.emplace();
    t.ErrorAt("expect_status", SpawnErrorOf(just_one).value_or(""));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& node = *array->get(i);
    const std::string path = fmt::format("{}[{}]", t.PathOf("expect_status"), i);
    std::string text;
    if (const auto* s = node.as_string()) {
      text = s->get();
    } else if (const auto* n = node.as_integer()) {
      text = fmt::format("{}", n->get());
    } else {
      t.diag().Report(node.source(), path,
                      fmt::format("expected a rule (a string such as \"2xx\" or an integer such "
                                  "as 200), got {}",
                                  Describe(node)));
      continue;
    }
    CheckOptions just_one;
    just_one.expect_status = {text};
    if (std::optional<std::string> error = SpawnErrorOf(just_one)) {
      t.diag().Report(node.source(), path, *error);
      continue;
    }
    rules.push_back(std::move(text));
  }
  return rules;
}

std::optional<HeaderExpectation> ReadExpectHeader(TableReader& t) {
  const toml::table* table = t.Table("expect_header");
  if (table == nullptr) return std::nullopt;
  TableReader h(*table, t.PathOf("expect_header"), t.diag());
  h.RejectUnknownKeys({"name", "match"});
  HeaderExpectation expectation;
  const bool has_name = h.Require("name");
  const bool has_match = h.Require("match");
  if (std::optional<std::string> name = has_name ? h.String("name") : std::nullopt) {
    CheckOptions just_one;
    just_one.expect_header = HeaderExpectation{*name, ""};
    if (std::optional<std::string> error = SpawnErrorOf(just_one)) h.ErrorAt("name", *error);
    expectation.name = std::move(*name);
  }
  if (std::optional<std::string> match = has_match ? h.String("match") : std::nullopt) {
    CheckOptions just_one;
    just_one.expect_header = HeaderExpectation{"X", *match};
    if (std::optional<std::string> error = SpawnErrorOf(just_one)) h.ErrorAt("match", *error);
    expectation.match = std::move(*match);
  }
  return expectation;
}

std::optional<std::string> ReadExpectBody(TableReader& t) {
  std::optional<std::string> pattern = t.String("expect_body");
  if (!pattern) return std::nullopt;
  CheckOptions just_one;
  just_one.expect_body = pattern;
  if (std::optional<std::string> error = SpawnErrorOf(just_one)) {
    t.ErrorAt("expect_body", *error);
    return std::nullopt;
  }
  return pattern;
}

// An integer of bytes or a ParseSize() string, as [shm] size; the range is Spawn's.
std::optional<int64_t> ReadBodyMax(TableReader& t) {
  const toml::node* node = t.Get("body_max");
  if (node == nullptr) return std::nullopt;
  int64_t bytes = 0;
  if (const auto* i = node->as_integer()) {
    bytes = i->get();
  } else if (const auto* s = node->as_string()) {
    Result<size_t> parsed = ParseSize(s->get());
    if (!parsed) {
      t.ErrorAt("body_max", parsed.error());
      return std::nullopt;
    }
    bytes = static_cast<int64_t>(*parsed);  // at most 12 digits times 1m: no overflow
  } else {
    t.ErrorAt("body_max", fmt::format("expected a size (bytes, or a string such as \"64k\" or "
                                      "\"1m\"), got {}",
                                      Describe(*node)));
    return std::nullopt;
  }
  CheckOptions just_one;
  just_one.expect_body = "";
  just_one.body_max = bytes;
  if (std::optional<std::string> error = SpawnErrorOf(just_one)) {
    t.ErrorAt("body_max", *error);
    return std::nullopt;
  }
  return bytes;
}

bool IsHeadRequest(const CheckOptions& check) {
  if (check.request) {
    std::string method = check.request->method.value_or("GET");
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return method == "HEAD";
  }
  return check.http_req && check.http_req->starts_with("HEAD ");
}

}  // namespace

void ReadCheckHttp(TableReader& t, CheckOptions& check) {
  check.request = ReadRequest(t);
  check.expect_status = ReadExpectStatus(t);
  check.expect_header = ReadExpectHeader(t);
  check.expect_body = ReadExpectBody(t);
  check.body_max = ReadBodyMax(t);
}

bool ValidateCheckHttp(TableReader& t, const CheckOptions& check) {
  if (check.type != "http" && check.type != "https") {
    for (std::string_view key : kHttpKeys) {
      if (t.Get(key) != nullptr) {
        t.ErrorAt(key, HttpKeyNeedsHttpType(key));
        return false;
      }
    }
    return true;
  }
  if (t.Get("http_req") != nullptr && t.Get("request") != nullptr) {
    CheckOptions both;
    both.http_req = "";
    both.request.emplace();
    t.ErrorAt("request", SpawnErrorOf(both).value_or(""));
    return false;
  }
  if (t.Get("body_max") != nullptr && t.Get("expect_body") == nullptr) {
    CheckOptions alone;
    alone.body_max = 1;
    t.ErrorAt("body_max", SpawnErrorOf(alone).value_or(""));
    return false;
  }
  return true;
}

void WarnAboutCheckHttp(TableReader& t, const CheckOptions& check) {
  constexpr int64_t kLargeBodyMax = int64_t{1024} * 1024;
  if (check.body_max && *check.body_max > kLargeBodyMax) {
    t.WarnAt("body_max", fmt::format("body_max {}: up to that much is held in memory for each "
                                     "probe in flight (each peer probed at once, see concurrency)",
                                     FormatSize(static_cast<size_t>(*check.body_max))));
  }
  if (check.expect_status && check.valid_statuses) {
    t.WarnAt("expect_status", "valid_statuses applies too: a status must pass both");
  }
  if (check.expect_body && IsHeadRequest(check)) {
    t.WarnAt("expect_body",
             "the request is HEAD, whose answer has no body: only a pattern that matches an "
             "empty body passes");
  }
}

}  // namespace upcheck::config

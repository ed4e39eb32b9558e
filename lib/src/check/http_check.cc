#include "check/http_check.h"

#include <algorithm>
#include <cctype>
#include <span>
#include <vector>

namespace upcheck {

namespace {

// RFC 9110's tchar.
bool IsToken(std::string_view s) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

// No byte that would end the request line or a header early.
bool IsPrintable(std::string_view s, bool spaces_allowed) {
  return std::none_of(s.begin(), s.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || (!spaces_allowed && u == ' ');
  });
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Status OptionError(std::string_view key, const std::string& what) {
  return Status::Error("\"" + std::string(key) + "\" option: " + what);
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status ValidateRequest(const CheckRequest& r) {
  if (r.method && !IsToken(*r.method)) {
    return OptionError("request",
                       "bad method " + Quoted(*r.method) + " (an HTTP token such as GET or HEAD)");
  }
  if (r.path && (!r.path->starts_with('/') || !IsPrintable(*r.path, false))) {
    return OptionError("request",
                       "bad path " + Quoted(*r.path) +
                           " (it starts with / and has no spaces or control characters)");
  }
  if (r.host && (r.host->empty() || !IsPrintable(*r.host, false))) {
    return OptionError("request", "bad host " + Quoted(*r.host) +
                                      " (a name, without spaces or control characters)");
  }
  for (const auto& [name, value] : r.headers) {
    if (!IsToken(name)) return OptionError("request", "bad header name " + Quoted(name));
    for (std::string_view own : {"Host", "Content-Length", "Connection", "Transfer-Encoding"}) {
      if (EqualsIgnoringCase(name, own)) {
        return OptionError("request", "header " + Quoted(name) +
                                          " is set by upcheck (the host goes in request.host)");
      }
    }
    if (!IsPrintable(value, true)) {
      return OptionError("request", "bad value of header " + Quoted(name) +
                                        " (no CR, LF or other control characters)");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string HttpKeyNeedsHttpType(std::string_view key) {
  return "\"" + std::string(key) + "\" option needs type \"http\" or \"https\"";
}

std::string_view FirstHttpKey(const CheckOptions& o) {
  if (o.request) return "request";
  if (o.expect_status) return "expect_status";
  if (o.expect_header) return "expect_header";
  if (o.expect_body) return "expect_body";
  if (o.body_max) return "body_max";
  return {};
}

Status ValidateHttpKeys(const CheckOptions& o) {
  if (o.request && o.http_req) {
    return Status::Error("\"http_req\" and \"request\" options cannot be used together");
  }
  if (o.request) {
    if (Status st = ValidateRequest(*o.request); !st) return st;
  }
  if (o.expect_status) {
    if (o.expect_status->empty()) {
      return OptionError("expect_status", "empty list (give at least one rule, such as \"2xx\")");
    }
    Result<std::vector<StatusRule>> rules = ParseStatusRules(*o.expect_status);
    if (!rules) return OptionError("expect_status", rules.error());
  }
  if (o.expect_header) {
    if (!IsToken(o.expect_header->name)) {
      return OptionError("expect_header", "bad header name " + Quoted(o.expect_header->name));
    }
    if (Status st = CheckRegex(o.expect_header->match); !st) {
      return OptionError("expect_header", st.message());
    }
  }
  if (o.expect_body) {
    if (Status st = CheckRegex(*o.expect_body); !st) {
      return OptionError("expect_body", st.message());
    }
  }
  if (o.body_max) {
    if (!o.expect_body) return Status::Error("\"body_max\" option needs \"expect_body\"");
    if (*o.body_max < 1 || *o.body_max > kMaxBodyMax) {
      return OptionError("body_max", "must be between 1 and " + std::to_string(kMaxBodyMax) +
                                         " bytes (16m), got " + std::to_string(*o.body_max));
    }
  }
  return Status::Ok();
}

std::string BuildRequest(const CheckRequest& request, const std::string& default_host) {
  std::string out = request.method.value_or("GET");
  out += ' ';
  out += request.path.value_or("/");
  out += " HTTP/1.1\r\nHost: ";
  out += request.host.value_or(default_host);
  out += "\r\n";
  for (const auto& [name, value] : request.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (request.body) {
    out += "Content-Length: " + std::to_string(request.body->size()) + "\r\n";
  }
  out += "Connection: close\r\n\r\n";
  if (request.body) out += *request.body;
  return out;
}

ResponseRuleTexts ResponseRuleTextsOf(const CheckOptions& o) {
  ResponseRuleTexts rules;
  if (o.expect_status) rules.expect_status = ParseStatusRules(*o.expect_status).value();
  if (o.expect_header) {
    rules.header_name = o.expect_header->name;
    rules.header_match = o.expect_header->match;
  }
  rules.body_match = o.expect_body;
  if (o.body_max) rules.body_max = static_cast<size_t>(*o.body_max);
  if (o.request) {
    rules.head_request = EqualsIgnoringCase(o.request->method.value_or("GET"), "HEAD");
  } else if (o.http_req) {
    rules.head_request = o.http_req->starts_with("HEAD ");
  }
  return rules;
}

}  // namespace upcheck

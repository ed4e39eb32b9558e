#include "probe_setup.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "cli_common.h"
#include "upcheck/checker.h"
#include "upcheck/config.h"
#include "upcheck/peer_address.h"
#include "upcheck/size.h"

namespace upcheck::probe_tool {
namespace {

using SetupResult = Result<ProbeSetup>;

// A target as written: a URL's scheme, authority and path, or HOST:PORT alone.
struct Target {
  std::optional<std::string> scheme;  // "http" or "https"; absent for HOST:PORT
  std::string host;                   // without brackets
  int port = 0;
  std::string authority;  // host[:port] as written: the request's Host
  std::string path = "/";
  std::optional<std::string> unix_path;
};

Status BadTarget(std::string_view text, std::string_view why) {
  return Status::Error(
      fmt::format("bad target \"{}\" ({}; a URL like http://127.0.0.1:8080/healthz, or HOST:PORT)",
                  cli::EscapeForLine(text), why));
}

std::optional<int> ParsePort(std::string_view text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || text.size() > 5 || ec != std::errc() || end != text.data() + text.size() ||
      port < 1 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

// "host:port", "[v6]:port", or "host" alone when a default port is known (0: none).
Status ParseAuthority(std::string_view text, std::string_view authority, int default_port,
                      Target* target) {
  if (authority.find('@') != std::string_view::npos) {
    return BadTarget(text, "user info is not supported");
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadTarget(text, "no ] after an IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return BadTarget(text, "junk after ]");
    if (!rest.empty()) port = rest.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return BadTarget(text, "an IPv6 address needs brackets");
    }
  }
  if (host.empty()) return BadTarget(text, "no host");
  if (port.empty() && authority.ends_with(':')) return BadTarget(text, "no port after :");
  if (port.empty() && default_port == 0) return BadTarget(text, "no port");
  std::optional<int> p = port.empty() ? default_port : ParsePort(port);
  if (!p) return BadTarget(text, "port must be 1..65535");
  target->host = std::string(host);
  target->port = *p;
  target->authority = std::string(authority);
  return Status::Ok();
}

Result<Target> ParseTarget(std::string_view text) {
  Target target;
  std::string_view rest = text;
  if (text.starts_with("unix:")) {
    target.unix_path = std::string(text.substr(5));
    target.authority = "localhost";
    return target;
  }
  int default_port = 0;
  for (const auto& [scheme, port] : {std::pair{"http", 80}, std::pair{"https", 443}}) {
    const std::string prefix = std::string(scheme) + "://";
    if (text.starts_with(prefix)) {
      target.scheme = scheme;
      default_port = port;
      rest = text.substr(prefix.size());
    }
  }
  if (!target.scheme && text.find("://") != std::string_view::npos) {
    return BadTarget(text, "the scheme must be http or https");
  }
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (end != std::string_view::npos) {
    if (!target.scheme) return BadTarget(text, "a path needs a URL");
    std::string_view path = rest.substr(end);
    path = path.substr(0, path.find('#'));
    target.path = path.starts_with('/') ? std::string(path) : "/" + std::string(path);
  }
  if (Status st = ParseAuthority(text, authority, default_port, &target); !st) return st;
  return target;
}

bool IsAddressLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The check and endpoint of a target given on the command line.
SetupResult FromTarget(const ProbeFlags& flags) {
  Result<Target> target = ParseTarget(*flags.target);
  if (!target) return target.status();
  ProbeSetup setup;
  CheckOptions& o = setup.options;
  o.type = flags.type.value_or(target->scheme.value_or("http"));
  if (!IsAddressLiteral(target->host) && !target->unix_path) o.host = target->host;
  if ((*o.type == "http" || *o.type == "https") && !flags.http_req) {
    o.request = CheckRequest{};
    o.request->path = target->path;
    o.request->host = target->authority;
  }
  setup.endpoint.host = target->host;
  setup.endpoint.port = target->port;
  setup.endpoint.unix_path = target->unix_path;
  if (target->unix_path) setup.endpoint.name = "unix:" + *target->unix_path;
  return setup;
}

std::string PeerList(const std::vector<ConfigPeer>& peers) {
  std::string out;
  for (const ConfigPeer& p : peers) out += (out.empty() ? "" : ", ") + p.address;
  return out.empty() ? "none" : out;
}

// `primary:0`, `backup:1`, or an address as the config writes it (any spelling of it).
Result<const ConfigPeer*> FindPeer(const UpstreamConfig& u, const std::string& peer) {
  for (const auto& [list, prefix] : {std::pair{&u.primary, "primary:"}, {&u.backup, "backup:"}}) {
    if (peer.starts_with(prefix)) {
      size_t id = 0;
      const char* begin = peer.data() + std::string_view(prefix).size();
      auto [end, ec] = std::from_chars(begin, peer.data() + peer.size(), id);
      if (ec == std::errc() && end == peer.data() + peer.size() && begin != end &&
          id < list->size()) {
        return &(*list)[id];
      }
    }
  }
  Result<PeerAddress> parsed = ParsePeerAddress(peer);
  const std::string canonical = parsed ? PeerAddressName(*parsed) : peer;
  for (const std::vector<ConfigPeer>* list : {&u.primary, &u.backup}) {
    for (const ConfigPeer& p : *list) {
      if (p.address == peer || p.address == canonical) return &p;
    }
  }
  return Result<const ConfigPeer*>::Error(
      fmt::format("no peer \"{}\" in upstream \"{}\" (primary: {}; backup: {}; or primary:N, "
                  "backup:N)",
                  cli::EscapeForLine(peer), u.name, PeerList(u.primary), PeerList(u.backup)));
}

// The check of --upstream in -c's config, probing --peer.
SetupResult FromConfig(const ProbeFlags& flags) {
  Result<Config> config = LoadConfig(*flags.config, ConfigFiles::kSkip);
  if (!config) return SetupResult::Error(cli::OneLineProblems(config.error()));
  auto u = std::find_if(config->upstreams.begin(), config->upstreams.end(),
                        [&](const UpstreamConfig& x) { return x.name == *flags.upstream; });
  if (u == config->upstreams.end()) {
    return SetupResult::Error(
        fmt::format("no upstream \"{}\" in {}", cli::EscapeForLine(*flags.upstream), config->path));
  }
  if (!u->check) {
    return SetupResult::Error(
        fmt::format("upstream \"{}\" in {} has no [upstream.check] table", u->name, config->path));
  }
  Result<const ConfigPeer*> peer = FindPeer(*u, *flags.peer);
  if (!peer) return peer.status();
  Result<PeerAddress> address = ParsePeerAddress((*peer)->address);
  if (!address) return address.status();
  ProbeSetup setup;
  setup.options = *u->check;
  if (flags.type) setup.options.type = flags.type;
  setup.endpoint.name = (*peer)->address;
  if (address->family == PeerAddress::Family::kUnix) {
    setup.endpoint.unix_path = address->host;
  } else {
    setup.endpoint.host = address->host;
    setup.endpoint.port = address->port;
  }
  return setup;
}

bool HasRequestFlag(const ProbeFlags& f) {
  return f.method || f.path || f.body || !f.headers.empty();
}

Status ApplyRequestFlags(const ProbeFlags& f, CheckOptions* o) {
  if (f.http_req) {
    o->http_req = UnescapeRequest(*f.http_req);
    o->request.reset();
  }
  if (!HasRequestFlag(f) && !(f.host && o->request)) return Status::Ok();
  if (!o->request) {
    o->request = CheckRequest{};
    if (!f.http_req) o->http_req.reset();  // the flags replace the config's raw request
  }
  CheckRequest& r = *o->request;
  if (f.method) r.method = f.method;
  if (f.path) r.path = f.path;
  if (f.host) r.host = f.host;
  if (f.body) r.body = f.body;
  for (const std::string& header : f.headers) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos) {
      return Status::Error(
          fmt::format("bad --header \"{}\" (Name: value)", cli::EscapeForLine(header)));
    }
    std::string value = header.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    r.headers.emplace_back(header.substr(0, colon), std::move(value));
  }
  return Status::Ok();
}

Status ApplyRuleFlags(const ProbeFlags& f, CheckOptions* o) {
  if (f.expect_status) o->expect_status = SplitCommaList(*f.expect_status);
  if (f.expect_header) {
    const size_t colon = f.expect_header->find(':');
    if (colon == std::string::npos || colon == 0) {
      return Status::Error(fmt::format("bad --expect-header \"{}\" (NAME:REGEX)",
                                       cli::EscapeForLine(*f.expect_header)));
    }
    o->expect_header =
        HeaderExpectation{f.expect_header->substr(0, colon), f.expect_header->substr(colon + 1)};
  }
  if (f.expect_body) o->expect_body = f.expect_body;
  if (f.body_max) {
    Result<size_t> size = ParseSize(*f.body_max);
    if (!size) return Status::Error("bad --body-max: " + size.error());
    o->body_max = static_cast<int64_t>(*size);
  }
  if (f.valid_statuses) {
    std::vector<double> statuses;
    for (const std::string& s : SplitCommaList(*f.valid_statuses)) {
      std::optional<double> n = cli::ParseFiniteNumber(s);
      if (!n) {
        return Status::Error(
            fmt::format("bad --valid-statuses \"{}\" (status codes separated by commas, e.g. "
                        "200,302)",
                        cli::EscapeForLine(*f.valid_statuses)));
      }
      statuses.push_back(*n);
    }
    o->valid_statuses = std::move(statuses);
  }
  return Status::Ok();
}

void ApplyTlsFlags(const ProbeFlags& f, CheckOptions* o) {
  if (f.host) o->host = f.host;
  if (f.timeout_ms) o->timeout_ms = f.timeout_ms;
  if (f.ca_file) o->ca_file = f.ca_file;
  if (f.insecure) o->ssl_verify = false;
  if (f.cert) o->tls_cert = f.cert;
  if (f.key) o->tls_key = f.key;
  if (f.alpn) o->alpn = SplitCommaList(*f.alpn);
  if (f.tls_min_version) o->tls_min_version = f.tls_min_version;
}

Status CheckModeFlags(const ProbeFlags& f) {
  if (f.config) {
    if (f.target) return Status::Error("give a target or -c with --upstream and --peer, not both");
    if (!f.upstream || !f.peer) return Status::Error("-c needs --upstream and --peer");
    return Status::Ok();
  }
  if (f.upstream || f.peer) return Status::Error("--upstream and --peer need -c CONFIG");
  if (!f.target) return Status::Error("no target (a URL or HOST:PORT, or -c CONFIG)");
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SplitCommaList(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string UnescapeRequest(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (text[i] == '\\' && (next == 'r' || next == 'n' || next == 't' || next == '\\')) {
      out += next == 'r' ? '\r' : next == 'n' ? '\n' : next == 't' ? '\t' : '\\';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<ProbeSetup> BuildProbeSetup(const ProbeFlags& flags) {
  if (Status st = CheckModeFlags(flags); !st) return st;
  SetupResult setup = flags.config ? FromConfig(flags) : FromTarget(flags);
  if (!setup) return setup;
  CheckOptions& o = setup->options;
  if (Status st = ApplyRequestFlags(flags, &o); !st) return st;
  if (Status st = ApplyRuleFlags(flags, &o); !st) return st;
  ApplyTlsFlags(flags, &o);
  if (Status st = ValidateCheckOptions(o); !st) return st;
  return setup;
}

}  // namespace upcheck::probe_tool

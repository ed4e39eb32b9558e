// DumpConfig: a Config back to canonical TOML, in the order of DESIGN.md §4.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/fleet_config.h"
#include "config/toml_reader.h"
#include "config/upstream_balancing.h"
#include "upcheck/config.h"

namespace upcheck {
namespace {

using config::TomlString;

std::string PeerList(const std::vector<ConfigPeer>& peers) {
  std::string out = "[";
  for (size_t i = 0; i < peers.size(); ++i) {
    if (i > 0) out += ", ";
    if (peers[i].down) {
      out += fmt::format("{{ address = {}, down = true }}", TomlString(peers[i].address));
    } else {
      out += TomlString(peers[i].address);
    }
  }
  return out + "]";
}

void DumpInteger(std::string& out, std::string_view key, const std::optional<int64_t>& value) {
  if (value) out += fmt::format("{} = {}\n", key, *value);
}

void DumpString(std::string& out, std::string_view key, const std::optional<std::string>& value) {
  if (value) out += fmt::format("{} = {}\n", key, TomlString(*value));
}

std::string StringList(const std::vector<std::string>& items) {
  std::string list;
  for (const std::string& item : items) list += (list.empty() ? "" : ", ") + TomlString(item);
  return "[" + list + "]";
}

// An inline table of the parts given; header names are quoted keys, in sending order.
std::string RequestTable(const CheckRequest& request) {
  std::vector<std::string> parts;
  auto part = [&](std::string_view key, const std::optional<std::string>& value) {
    if (value) parts.push_back(fmt::format("{} = {}", key, TomlString(*value)));
  };
  part("method", request.method);
  part("path", request.path);
  part("host", request.host);
  if (!request.headers.empty()) {
    std::vector<std::string> headers;
    for (const auto& [name, value] : request.headers) {
      headers.push_back(fmt::format("{} = {}", TomlString(name), TomlString(value)));
    }
    parts.push_back(fmt::format("headers = {{ {} }}", fmt::join(headers, ", ")));
  }
  part("body", request.body);
  if (parts.empty()) return "{}";
  return fmt::format("{{ {} }}", fmt::join(parts, ", "));
}

void DumpHttpKeys(std::string& out, const CheckOptions& check) {
  if (check.request) out += fmt::format("request = {}\n", RequestTable(*check.request));
  if (check.expect_status) {
    out += fmt::format("expect_status = {}\n", StringList(*check.expect_status));
  }
  if (check.expect_header) {
    out +=
        fmt::format("expect_header = {{ name = {}, match = {} }}\n",
                    TomlString(check.expect_header->name), TomlString(check.expect_header->match));
  }
  DumpString(out, "expect_body", check.expect_body);
  if (check.body_max) {
    out += fmt::format("body_max = {}\n",
                       TomlString(FormatSize(static_cast<size_t>(*check.body_max))));
  }
}

// Options left out were absent from the file: the checker applies its defaults to them.
// shm and upstream are not written: they follow from [shm] and the upstream's name.
void DumpCheck(std::string& out, const CheckOptions& check) {
  out += "\n[upstream.check]\n";
  DumpString(out, "type", check.type);
  DumpString(out, "http_req", check.http_req);
  DumpInteger(out, "interval", check.interval_ms);
  DumpInteger(out, "fastinter", check.fastinter_ms);
  DumpInteger(out, "downinter", check.downinter_ms);
  DumpInteger(out, "jitter", check.jitter);
  DumpInteger(out, "timeout", check.timeout_ms);
  DumpInteger(out, "fall", check.fall);
  DumpInteger(out, "rise", check.rise);
  if (check.valid_statuses) {
    out += "valid_statuses = [";
    for (size_t i = 0; i < check.valid_statuses->size(); ++i) {
      if (i > 0) out += ", ";
      out += fmt::format("{}", static_cast<int64_t>((*check.valid_statuses)[i]));
    }
    out += "]\n";
  }
  DumpInteger(out, "concurrency", check.concurrency);
  DumpInteger(out, "port", check.port);
  DumpString(out, "host", check.host);
  if (check.ssl_verify) out += fmt::format("ssl_verify = {}\n", *check.ssl_verify);
  DumpString(out, "ca_file", check.ca_file);
  DumpString(out, "tls_cert", check.tls_cert);
  DumpString(out, "tls_key", check.tls_key);
  if (check.alpn) out += fmt::format("alpn = {}\n", StringList(*check.alpn));
  DumpString(out, "tls_min_version", check.tls_min_version);
  DumpHttpKeys(out, check);
}

}  // namespace

std::string DumpConfig(const Config& config) {
  std::string out;
  out += "[shm]\n";
  out += fmt::format("name = {}\n", TomlString(config.shm.name));
  out += fmt::format("size = {}\n", TomlString(FormatSize(config.shm.size)));
  out += fmt::format("persist = {}\n", config.shm.persist);
  out += fmt::format("reload_state = {}\n", TomlString(ReloadStateName(config.shm.reload_state)));

  const DaemonConfig& daemon = config.daemon;
  out += "\n[daemon]\n";
  out += fmt::format("workers = {}\n", daemon.workers);
  DumpString(out, "status_listen", daemon.status_listen);
  out += fmt::format("log_level = {}\n", TomlString(daemon.log_level));
  out += fmt::format("error_log = {}\n", TomlString(daemon.error_log));
  DumpString(out, "pid_file", daemon.pid_file);
  if (daemon.shutdown_timeout_ms != kDefaultShutdownTimeoutMs) {
    out += fmt::format("shutdown_timeout = {}\n", daemon.shutdown_timeout_ms);
  }
  DumpString(out, "on_event", daemon.on_event);
  if (daemon.on_event_timeout_ms != kDefaultOnEventTimeoutMs) {
    out += fmt::format("on_event_timeout = {}\n", daemon.on_event_timeout_ms);
  }
  if (config.fleet) out += config::DumpFleet(*config.fleet);

  for (const UpstreamConfig& upstream : config.upstreams) {
    out += "\n[[upstream]]\n";
    out += fmt::format("name = {}\n", TomlString(upstream.name));
    out += fmt::format("primary = {}\n", PeerList(upstream.primary));
    out += fmt::format("backup = {}\n", PeerList(upstream.backup));
    DumpString(out, "balancer_listen", upstream.balancer_listen);
    // Off is left out, as an absent balancer_listen is.
    if (upstream.slow_start_ms > 0) {
      out += fmt::format("slow_start = \"{}\"\n", config::FormatDurationMs(upstream.slow_start_ms));
    }
    if (upstream.panic_threshold > 0) {
      out += fmt::format("panic_threshold = {}\n", upstream.panic_threshold);
    }
    if (upstream.check) DumpCheck(out, *upstream.check);
    if (upstream.check && upstream.check->passive) {
      out += "\n[upstream.passive]\n";
      if (upstream.check->passive->fall > 0) {
        out += fmt::format("fall = {}\n", upstream.check->passive->fall);
      }
      out += fmt::format("skip_active_when_passing = {}\n",
                         upstream.check->passive->skip_active_when_passing);
    }
  }
  return out;
}

}  // namespace upcheck

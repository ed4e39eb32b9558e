// /status.json (DESIGN §5): the facts of the status page plus per-peer details.
#include <time.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "upcheck/status_details.h"

namespace upcheck {
namespace {

using Json = nlohmann::ordered_json;  // keeps DESIGN §5's key order

// "2026-11-23T18:00:00.123Z", or null for 0 (never).
Json Rfc3339(int64_t unix_ms) {
  if (unix_ms <= 0) return nullptr;
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  if (gmtime_r(&seconds, &tm) == nullptr) return nullptr;
  char text[80];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return text;
}

// Dict numbers and versions are doubles; print the whole ones as integers ("3", not "3.0").
Json Number(double value) {
  if (std::isfinite(value) && value == std::trunc(value) && std::fabs(value) < 9.0e15) {
    return static_cast<int64_t>(value);
  }
  return value;
}

double DictNumber(SharedDict* dict, const std::string& key) {
  if (dict == nullptr) return 0;
  Result<std::optional<DictValue>> got = dict->Get(key);
  if (!got.ok() || !got->has_value()) return 0;
  const double* number = std::get_if<double>(&**got);
  return number != nullptr ? *number : 0;
}

void AppendPeers(Json& out, std::string_view upstream, std::span<const PeerInfo> peers, bool backup,
                 const Registry* registry, std::optional<size_t> registry_index, SharedDict* dict) {
  const std::string suffix = std::string(upstream) + (backup ? ":b" : ":p");
  for (const PeerInfo& peer : peers) {
    const std::string id = std::to_string(peer.id);
    Json p;
    p["name"] = peer.name;
    p["role"] = backup ? "backup" : "primary";
    p["id"] = peer.id;
    p["up"] = !peer.down;
    p["ok"] = Number(DictNumber(dict, "ok:" + suffix + id));
    p["nok"] = Number(DictNumber(dict, "nok:" + suffix + id));
    if (registry != nullptr && registry_index) {
      const PeerDetails d = registry->details(*registry_index, backup, peer.id);
      p["checks"] = d.checks;
      p["failures"] = d.failures;
      p["last_check"] = Rfc3339(d.last_check_ms);
      p["last_duration_ms"] = d.last_duration_ms;
      p["last_result"] = d.last_result;
      p["last_error"] = d.last_error;
      p["last_change"] = Rfc3339(d.last_change_ms);
    }
    out.push_back(std::move(p));
  }
}

}  // namespace

std::string StatusJson(const Upstreams& view, const Registry* registry, SharedDict* dict,
                       int worker_pid) {
  view.RunBeforeReadHook();
  Json doc;
  doc["worker_pid"] = worker_pid;
  Json& upstreams = doc["upstreams"] = Json::array();
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    const std::string_view name = view.upstream_name(i);
    std::optional<size_t> index;
    if (registry != nullptr) index = registry->FindUpstream(name);
    Json u;
    u["name"] = name;
    u["checkers"] = view.checker_count(i);
    u["version"] = Number(index ? registry->published_version(*index) : 0);
    Json& peers = u["peers"] = Json::array();
    AppendPeers(peers, name, view.primary_peers(i), /*backup=*/false, registry, index, dict);
    AppendPeers(peers, name, view.backup_peers(i), /*backup=*/true, registry, index, dict);
    upstreams.push_back(std::move(u));
  }
  // Peer names and errors are ASCII, but a dict-borne error text could hold anything:
  // replace invalid UTF-8 rather than throw.
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string StatusJson(const Upstreams& view, const Registry* registry, int worker_pid) {
  return StatusJson(view, registry, nullptr, worker_pid);
}

}  // namespace upcheck

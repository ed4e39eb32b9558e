// Journal events as JSON and as text (see upcheck/internal/event_format.h).
#include "upcheck/internal/event_format.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace upcheck {
namespace {

std::string Quoted(const std::string& s) {
  // JSON's escaping is nginx's "..." convention's superset: safe for any byte a peer sent.
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string FormatUnixMs(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(unix_ms % 1000));
}

std::string EventJson(const JournalEvent& e) {
  nlohmann::ordered_json j;
  j["seq"] = e.seq;
  j["time"] = FormatUnixMs(e.unix_ms);
  j["kind"] = EventKindName(e.kind);
  j["pid"] = e.pid;
  if (!e.upstream.empty()) j["upstream"] = e.upstream;
  if (!e.peer.empty()) {
    j["peer"] = e.peer;
    j["role"] = e.backup ? "backup" : "primary";
  }
  j["message"] = e.message;
  if (e.kind == EventKind::kAdmin) {
    j["admin"] = AdminStateName(e.admin);
    j["reason"] = e.detail;
    j["expires"] = e.expires_ms > 0 ? nlohmann::ordered_json(FormatUnixMs(e.expires_ms))
                                    : nlohmann::ordered_json(nullptr);
  } else if (!e.detail.empty()) {
    j["error"] = e.detail;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EventLine(const JournalEvent& e) {
  std::string line =
      fmt::format("{} {} {} {}", e.seq, FormatUnixMs(e.unix_ms), EventKindName(e.kind), e.message);
  if (!e.upstream.empty()) line += ", upstream: " + Quoted(e.upstream);
  if (e.kind == EventKind::kAdmin) {
    if (e.expires_ms > 0) line += ", until " + FormatUnixMs(e.expires_ms);
    if (!e.detail.empty()) line += ", reason: " + Quoted(e.detail);
  } else if (!e.detail.empty()) {
    line += ", error: " + Quoted(e.detail);
  }
  return line;
}

std::string GapJson(uint64_t from, uint64_t to) {
  return fmt::format(R"({{"gap":{{"from":{},"to":{},"missed":{}}}}})", from, to, to - from + 1);
}

std::string GapLine(uint64_t from, uint64_t to, uint32_t capacity) {
  return fmt::format("# missed {} events ({}..{}): the journal keeps the last {}", to - from + 1,
                     from, to, capacity);
}

}  // namespace upcheck

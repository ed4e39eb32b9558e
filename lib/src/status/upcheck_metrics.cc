// The upcheck_* Prometheus families (DESIGN §5), text format 0.0.4. Built for pages of
// 10,000 peers: the details are read once, the page is sized up front, numbers go through
// std::to_chars and label values are copied as they are unless they need escaping.
#include <array>
#include <charconv>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "status/upcheck_version.h"
#include "upcheck/internal/status_details.h"
#include "util/clock.h"

namespace upcheck {
namespace {

struct PeerRow {
  std::string_view upstream;
  const PeerInfo* peer;
  bool backup;
  std::optional<PeerDetails> details;  // nullopt: no registry, or it lacks the upstream
  AdminState admin = AdminState::kAuto;
  std::string_view labels;  // `upstream="u",peer="p",role="r"`, escaped once
};

// Prometheus label value escaping: backslash, double quote and line feed.
void AppendEscaped(std::string& out, std::string_view value) {
  size_t plain = 0;  // a plain loop: find_first_of() calls memchr per character
  while (plain < value.size() && value[plain] != '\\' && value[plain] != '"' &&
         value[plain] != '\n') {
    ++plain;
  }
  if (plain == value.size()) {
    out.append(value);
    return;
  }
  for (char c : value) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

void AppendLabels(std::string& out, const PeerRow& row) {
  out.append("upstream=\"");
  AppendEscaped(out, row.upstream);
  out.append("\",peer=\"");
  AppendEscaped(out, row.peer->name);
  out.append(row.backup ? "\",role=\"backup\"" : "\",role=\"primary\"");
}

// `name{upstream="u",peer="p",role="r"` -- the caller closes the brace.
void AppendSeries(std::string& out, std::string_view family, const PeerRow& row) {
  out.append(family).push_back('{');
  out.append(row.labels);
}

template <typename T>
void AppendNumber(std::string& out, T value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec == std::errc()) out.append(buffer, end);
}

void AppendHeader(std::string& out, std::string_view family, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(family).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(family).append(" ").append(type).append("\n");
}

// The rows' labels point into `labels`, which must outlive them.
std::vector<PeerRow> CollectRows(const Upstreams& view, const Registry* registry,
                                 std::string& labels) {
  size_t count = 0;
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    count += view.primary_peers(i).size() + view.backup_peers(i).size();
  }
  std::vector<PeerRow> rows;
  rows.reserve(count);
  std::vector<size_t> ends;  // label offsets until `labels` stops growing
  ends.reserve(count);
  const int64_t now_ms = registry != nullptr ? UnixMs() : 0;
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    const std::string_view name = view.upstream_name(i);
    std::optional<size_t> index;
    if (registry != nullptr) index = registry->FindUpstream(name);
    for (bool backup : {false, true}) {
      for (const PeerInfo& peer : backup ? view.backup_peers(i) : view.primary_peers(i)) {
        PeerRow row{name, &peer, backup, std::nullopt, AdminState::kAuto, {}};
        if (index) {
          row.details = registry->details(*index, backup, peer.id);
          row.admin = registry->admin(*index, backup, peer.id, now_ms).state;
        }
        AppendLabels(labels, row);
        ends.push_back(labels.size());
        rows.push_back(std::move(row));
      }
    }
  }
  for (size_t k = 0, begin = 0; k < rows.size(); begin = ends[k++]) {
    rows[k].labels = std::string_view(labels).substr(begin, ends[k] - begin);
  }
  return rows;
}

// The results a peer has failed with: its samples of upcheck_peer_check_failures_total.
size_t FailedResults(const PeerRow& row) {
  if (!row.details || row.details->failures == 0) return 0;
  size_t n = 0;
  for (uint64_t count : row.details->failures_by_result) n += count != 0;
  return n;
}

size_t EstimateSize(std::span<const PeerRow> rows) {
  // Per peer: up to 11 samples, and one per result it failed with, of family name (<= 41)
  // + labels (~40) + value (<= 24); an estimate short by a byte would cost a copy of the
  // whole page.
  size_t size = 4096;
  for (const PeerRow& row : rows) {
    size += (11 + FailedResults(row)) * (112 + row.upstream.size() + row.peer->name.size());
  }
  return size;
}

// A Unix time in ms as seconds, printed as std::to_chars prints ms / 1000.0 (the shortest
// form: "1700000000.12"), without the double's conversion. Whole seconds go through the
// double: to_chars may choose "1.7e+09" for them.
void AppendSeconds(std::string& out, int64_t ms) {
  const int fraction = static_cast<int>(ms % 1000);
  if (fraction == 0 || ms >= 1'000'000'000'000'000) {
    AppendNumber(out, static_cast<double>(ms) / 1000.0);
    return;
  }
  AppendNumber(out, ms / 1000);
  char digits[4] = {'.', static_cast<char>('0' + fraction / 100),
                    static_cast<char>('0' + fraction / 10 % 10),
                    static_cast<char>('0' + fraction % 10)};
  size_t n = 4;
  while (digits[n - 1] == '0') --n;
  out.append(digits, n);
}

// A family of per-peer samples read from PeerDetails (peer_fields.h): each peer with
// details gets one sample per series, `family{labels<series.labels>} <value>`.
struct DetailSeries {
  std::string_view labels;  // appended to the peer's labels, with the closing brace
  void (*append)(std::string& out, const PeerDetails& d);
};
struct DetailFamily {
  std::string_view name, type, help;
  bool checked_only;  // no sample for a peer never checked
  std::span<const DetailSeries> series;
};

constexpr DetailSeries kChecksSeries[] = {
    {",result=\"success\"} ",
     [](std::string& out, const PeerDetails& d) { AppendNumber(out, d.checks - d.failures); }},
    {",result=\"failure\"} ",
     [](std::string& out, const PeerDetails& d) { AppendNumber(out, d.failures); }},
};
constexpr DetailSeries kTransitionsSeries[] = {
    {",to=\"up\"} ",
     [](std::string& out, const PeerDetails& d) { AppendNumber(out, d.turned_up); }},
    {",to=\"down\"} ",
     [](std::string& out, const PeerDetails& d) { AppendNumber(out, d.turned_down); }},
};
constexpr DetailSeries kDurationSeries[] = {
    {"} ", [](std::string& out,
              const PeerDetails& d) { AppendNumber(out, d.last_duration_ms / 1000.0); }},
};
constexpr DetailSeries kLastCheckSeries[] = {
    {"} ", [](std::string& out, const PeerDetails& d) { AppendSeconds(out, d.last_check_ms); }},
};

constexpr DetailFamily kChecksFamily = {"upcheck_peer_checks_total", "counter",
                                        "Health checks of the peer, by result.", false,
                                        kChecksSeries};
// The families after upcheck_peer_check_failures_total.
constexpr DetailFamily kDetailFamilies[] = {
    {"upcheck_peer_transitions_total", "counter",
     "Times the health checks turned the peer up or down.", false, kTransitionsSeries},
    {"upcheck_peer_check_duration_seconds", "gauge", "Duration of the peer's last health check.",
     true, kDurationSeries},
    {"upcheck_peer_last_check_timestamp_seconds", "gauge",
     "Unix time of the peer's last health check.", true, kLastCheckSeries},
};

void AppendDetailFamily(std::string& out, const DetailFamily& family,
                        std::span<const PeerRow> rows) {
  AppendHeader(out, family.name, family.type, family.help);
  for (const PeerRow& row : rows) {
    if (!row.details || (family.checked_only && row.details->last_check_ms <= 0)) continue;
    for (const DetailSeries& series : family.series) {
      AppendSeries(out, family.name, row);
      out.append(series.labels);
      series.append(out, *row.details);
      out.push_back('\n');
    }
  }
}

// upcheck_peer_check_failures_total{result}: one sample per result a peer failed with,
// so that healthy peers add no series. Their sum is upcheck_peer_checks_total's failures.
void AppendFailuresByResult(std::string& out, std::span<const PeerRow> rows) {
  constexpr std::string_view kFamily = "upcheck_peer_check_failures_total";
  AppendHeader(out, kFamily, "counter", "Failed health checks of the peer, by result.");
  for (const PeerRow& row : rows) {
    if (!row.details || row.details->failures == 0) continue;
    for (size_t r = 0; r < kFailureResults.size(); ++r) {
      const uint64_t count = row.details->failures_by_result[r];
      if (count == 0) continue;
      AppendSeries(out, kFamily, row);
      out.append(",result=\"").append(kFailureResults[r]).append("\"} ");
      AppendNumber(out, count);
      out.push_back('\n');
    }
  }
}

// The passive checks' counters (DESIGN §10), each a family only once some peer has a
// nonzero count, so that upstreams without passive checks add no series.
void AppendSparseCounter(std::string& out, std::span<const PeerRow> rows, std::string_view family,
                         std::string_view help, uint64_t PeerDetails::*member) {
  bool header = false;
  for (const PeerRow& row : rows) {
    if (!row.details || (*row.details).*member == 0) continue;
    if (!header) {
      AppendHeader(out, family, "counter", help);
      header = true;
    }
    AppendSeries(out, family, row);
    out.append("} ");
    AppendNumber(out, (*row.details).*member);
    out.push_back('\n');
  }
}

// upcheck_peer_admin_state{state}: a sample for each peer an operator overrode, so that a
// fleet left to its checks adds no series (and no family); no sample reads "auto".
void AppendAdminStates(std::string& out, std::span<const PeerRow> rows) {
  constexpr std::string_view kFamily = "upcheck_peer_admin_state";
  bool header = false;
  for (const PeerRow& row : rows) {
    if (!row.details || row.admin == AdminState::kAuto) continue;
    if (!header) {
      AppendHeader(out, kFamily, "gauge",
                   "The admin state an operator set on the peer (upcheck-shmctl peer); always 1. "
                   "No sample: auto.");
      header = true;
    }
    AppendSeries(out, kFamily, row);
    out.append(",state=\"").append(AdminStateName(row.admin)).append("\"} 1\n");
  }
}

// upcheck_peer_next_check_timestamp_seconds: when the schedule has each peer due next, as
// its last checker reported it. Like the admin states, no family until a checker reported
// one (details written by a host that does not schedule stay without it).
void AppendNextChecks(std::string& out, std::span<const PeerRow> rows) {
  constexpr std::string_view kFamily = "upcheck_peer_next_check_timestamp_seconds";
  bool header = false;
  for (const PeerRow& row : rows) {
    if (!row.details || row.details->next_check_ms <= 0) continue;
    if (!header) {
      AppendHeader(out, kFamily, "gauge", "Unix time at which the peer is next due a check.");
      header = true;
    }
    AppendSeries(out, kFamily, row);
    out.append("} ");
    AppendSeconds(out, row.details->next_check_ms);
    out.push_back('\n');
  }
}

// upcheck_events_total{kind}: every kind, zeros included, so that rate() sees the first one.
void AppendEventCounts(std::string& out, const Journal& journal) {
  constexpr std::string_view kFamily = "upcheck_events_total";
  AppendHeader(out, kFamily, "counter",
               "Events written to the segment's journal (upcheck-shmctl events), by kind.");
  const std::array<uint64_t, kEventKindCount> counts = journal.Counts();
  for (size_t k = 0; k < kEventKindCount; ++k) {
    out.append(kFamily).append("{kind=\"");
    out.append(EventKindName(static_cast<EventKind>(k))).append("\"} ");
    AppendNumber(out, counts[k]);
    out.push_back('\n');
  }
}

// upcheck_peer_slow_start_weight: the balancer's share of each peer of an upstream with
// slow_start (SlowStartWeight); no family when none has it.
void AppendSlowStartWeights(std::string& out, std::span<const PeerRow> rows,
                            const Registry& registry) {
  constexpr std::string_view kFamily = "upcheck_peer_slow_start_weight";
  const int64_t now_ms = UnixMs();
  bool header = false;
  for (const PeerRow& row : rows) {
    const std::optional<size_t> u =
        row.details ? registry.FindUpstream(row.upstream) : std::nullopt;
    const int64_t slow_start_ms = u ? registry.slow_start_ms(*u) : 0;
    if (slow_start_ms <= 0) continue;
    if (!header) {
      AppendHeader(out, kFamily, "gauge",
                   "The share of a full weight the balancer gives the peer (slow_start).");
      header = true;
    }
    AppendSeries(out, kFamily, row);
    out.append("} ");
    AppendNumber(
        out, SlowStartWeight(row.peer->down, row.details->last_change_ms, slow_start_ms, now_ms));
    out.push_back('\n');
  }
}

// upcheck_upstream_panic and upcheck_panic_total, for upstreams with panic_threshold.
void AppendPanic(std::string& out, const Upstreams& view, const Registry& registry) {
  std::vector<std::pair<std::string_view, size_t>> upstreams;
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    const std::optional<size_t> u = registry.FindUpstream(view.upstream_name(i));
    if (u && registry.panic_threshold(*u) > 0) upstreams.emplace_back(view.upstream_name(i), *u);
  }
  if (upstreams.empty()) return;
  constexpr std::string_view kPanic = "upcheck_upstream_panic";
  constexpr std::string_view kTotal = "upcheck_panic_total";
  AppendHeader(out, kPanic, "gauge",
               "Whether the balancers pick among all primaries (panic_threshold) (1) or not (0).");
  for (const auto& [name, u] : upstreams) {
    out.append(kPanic).append("{upstream=\"");
    AppendEscaped(out, name);
    out.append(registry.panic(u) ? "\"} 1\n" : "\"} 0\n");
  }
  AppendHeader(out, kTotal, "counter", "Times the upstream's balancers entered panic.");
  for (const auto& [name, u] : upstreams) {
    out.append(kTotal).append("{upstream=\"");
    AppendEscaped(out, name);
    out.append("\"} ");
    AppendNumber(out, registry.panic_total(u));
    out.push_back('\n');
  }
}

// upcheck_fleet_role{role}, upcheck_fleet_version and upcheck_fleet_fallback_total
// (DESIGN §11), for the upstreams whose checkers took a part in a fleet; no family when
// no upstream did, so that a host without [fleet] adds no series.
void AppendFleet(std::string& out, const Upstreams& view, const Registry& registry) {
  std::vector<std::pair<std::string_view, size_t>> upstreams;
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    const std::optional<size_t> u = registry.FindUpstream(view.upstream_name(i));
    if (u && registry.fleet_role(*u) != FleetRole::kNone) {
      upstreams.emplace_back(view.upstream_name(i), *u);
    }
  }
  if (upstreams.empty()) return;
  constexpr std::string_view kRole = "upcheck_fleet_role";
  constexpr std::string_view kVersion = "upcheck_fleet_version";
  constexpr std::string_view kFallbacks = "upcheck_fleet_fallback_total";
  auto append_upstream = [&out](std::string_view family, std::string_view name) {
    out.append(family).append("{upstream=\"");
    AppendEscaped(out, name);
  };
  AppendHeader(out, kRole, "gauge",
               "This host's part in the upstream's fleet: 1 for the current role, else 0.");
  for (const auto& [name, u] : upstreams) {
    const FleetRole current = registry.fleet_role(u);
    for (FleetRole role : {FleetRole::kWinner, FleetRole::kFollower, FleetRole::kAlone}) {
      append_upstream(kRole, name);
      out.append("\",role=\"").append(FleetRoleName(role));
      out.append(role == current ? "\"} 1\n" : "\"} 0\n");
    }
  }
  AppendHeader(out, kVersion, "gauge", "The fleet version of the upstream this host holds.");
  for (const auto& [name, u] : upstreams) {
    append_upstream(kVersion, name);
    out.append("\"} ");
    AppendNumber(out, registry.fleet_version(u));
    out.push_back('\n');
  }
  AppendHeader(out, kFallbacks, "counter",
               "Times this host fell back to probing the upstream alone (Redis slow or gone).");
  for (const auto& [name, u] : upstreams) {
    append_upstream(kFallbacks, name);
    out.append("\"} ");
    AppendNumber(out, registry.fleet_fallbacks(u));
    out.push_back('\n');
  }
}

}  // namespace

std::string_view UpcheckVersion() { return UPCHECK_VERSION; }

std::string UpcheckMetrics(const Upstreams& view, const Registry* registry) {
  std::string out;
  AppendUpcheckMetrics(out, view, registry);
  return out;
}

void AppendUpcheckMetrics(std::string& out, const Upstreams& view, const Registry* registry) {
  view.RunBeforeReadHook();
  std::string labels;
  const std::vector<PeerRow> rows = CollectRows(view, registry, labels);
  out.reserve(out.size() + EstimateSize(rows));

  constexpr std::string_view kUp = "upcheck_peer_up";
  AppendHeader(out, kUp, "gauge", "Whether the peer is up (1) or down (0) in this worker's view.");
  for (const PeerRow& row : rows) {
    AppendSeries(out, kUp, row);
    out.append(row.peer->down ? "} 0\n" : "} 1\n");
  }

  if (registry != nullptr) {
    AppendDetailFamily(out, kChecksFamily, rows);
    AppendFailuresByResult(out, rows);
    for (const DetailFamily& family : kDetailFamilies) AppendDetailFamily(out, family, rows);
    AppendAdminStates(out, rows);
    AppendNextChecks(out, rows);
    AppendSparseCounter(out, rows, "upcheck_peer_passive_failures_total",
                        "Connections to the peer that a balancer saw fail (passive checks).",
                        &PeerDetails::passive_failures);
    AppendSparseCounter(out, rows, "upcheck_peer_active_skipped_total",
                        "Active checks of the peer skipped while real traffic to it passed.",
                        &PeerDetails::active_skipped);
    if (const Journal* journal = registry->journal()) AppendEventCounts(out, *journal);
    AppendSlowStartWeights(out, rows, *registry);
    AppendPanic(out, view, *registry);
    AppendFleet(out, view, *registry);
  }

  constexpr std::string_view kBuild = "upcheck_build_info";
  AppendHeader(out, kBuild, "gauge", "upcheck's version; always 1.");
  out.append(kBuild).append("{version=\"");
  AppendEscaped(out, UPCHECK_VERSION);
  out.append("\"} 1\n");
}

}  // namespace upcheck

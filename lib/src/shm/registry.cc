#include "upcheck/registry.h"

#include <signal.h>

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "probe/probe_result.h"
#include "shm/registry_layout.h"
#include "util/clock.h"

namespace upcheck {

using shm::PeerDetailsShm;
using shm::PeerShm;
using shm::RegistryHeaderShm;
using shm::StringRefShm;
using shm::UpstreamShm;
using shm::WorkerSlotShm;

namespace {

constexpr size_t Align(size_t v) { return (v + 63) / 64 * 64; }

std::string CheckJson(const CheckOptions& o) {
  nlohmann::json j;
  if (o.type) j["type"] = *o.type;
  if (o.http_req) j["http_req"] = *o.http_req;
  if (o.interval_ms) j["interval"] = *o.interval_ms;
  if (o.timeout_ms) j["timeout"] = *o.timeout_ms;
  if (o.fall) j["fall"] = *o.fall;
  if (o.rise) j["rise"] = *o.rise;
  if (o.concurrency) j["concurrency"] = *o.concurrency;
  if (o.valid_statuses) j["valid_statuses"] = *o.valid_statuses;
  if (o.port) j["port"] = *o.port;
  if (o.host) j["host"] = *o.host;
  if (o.ssl_verify) j["ssl_verify"] = *o.ssl_verify;
  if (o.ca_file) j["ca_file"] = *o.ca_file;
  return j.dump();
}

// The step names of PeerCheckEvent, in ProbeKind order (stored as 1 + index).
constexpr std::string_view kSteps[] = {"ok",      "connect",     "tls",         "send",
                                       "receive", "status_line", "status_code", "socket"};

struct Layout {
  size_t upstreams, peers, workers, versions, strings, strings_bytes, total;
};

Layout Plan(size_t upstream_count, size_t peer_count, size_t max_workers, size_t strings) {
  Layout l;
  l.upstreams = Align(sizeof(RegistryHeaderShm));
  l.peers = Align(l.upstreams + upstream_count * sizeof(UpstreamShm));
  l.workers = Align(l.peers + peer_count * sizeof(PeerShm));
  l.versions = Align(l.workers + max_workers * sizeof(WorkerSlotShm));
  l.strings = Align(l.versions + max_workers * upstream_count * sizeof(uint64_t));
  l.strings_bytes = strings;
  l.total = Align(l.strings + strings);
  return l;
}

}  // namespace

std::string_view WorkerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kFree:
      return "free";
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kRunning:
      return "running";
    case WorkerState::kExiting:
      return "exiting";
  }
  return "unknown";
}

Registry::Registry(RegistryHeaderShm* header, size_t bytes) : h_(header), bytes_(bytes) {}

namespace {

struct Prepared {
  Upstreams view;  // validates and canonicalises the names
  std::string pool;
  size_t peers = 0;
};

Result<Prepared> Prepare(const std::vector<RegistryUpstreamSpec>& upstreams) {
  Prepared p;
  for (const RegistryUpstreamSpec& u : upstreams) {
    if (Status st = p.view.AddUpstream(u.name, u.primary, u.backup); !st.ok()) {
      return Status::Error("upstream \"" + u.name + "\": " + st.message());
    }
    p.pool += u.name;
    if (u.check) p.pool += CheckJson(*u.check);
    for (size_t i = 0; i < p.view.upstream_count(); ++i) {
      if (p.view.upstream_name(i) != u.name) continue;
      for (const PeerInfo& peer : p.view.primary_peers(i)) p.pool += peer.name;
      for (const PeerInfo& peer : p.view.backup_peers(i)) p.pool += peer.name;
      p.peers += p.view.primary_peers(i).size() + p.view.backup_peers(i).size();
    }
  }
  return p;
}

}  // namespace

size_t Registry::BytesNeeded(const std::vector<RegistryUpstreamSpec>& upstreams,
                             uint32_t max_workers) {
  Result<Prepared> p = Prepare(upstreams);
  if (!p.ok()) return 0;
  return Plan(upstreams.size(), p->peers, max_workers, p->pool.size()).total;
}

Result<Registry> Registry::Create(Segment& segment,
                                  const std::vector<RegistryUpstreamSpec>& upstreams,
                                  uint32_t max_workers) {
  Result<Prepared> prepared = Prepare(upstreams);
  if (!prepared.ok()) return prepared.status();
  Layout l = Plan(upstreams.size(), prepared->peers, max_workers, prepared->pool.size());
  Result<void*> area = segment.AllocateArea(SegmentArea::kRegistry, l.total);
  if (!area.ok()) return area.status();
  char* base = static_cast<char*>(*area);
  auto* h = new (base) RegistryHeaderShm{};
  h->magic = shm::kRegistryMagic;
  h->bytes = l.total;
  h->upstream_count = static_cast<uint32_t>(upstreams.size());
  h->peer_count = static_cast<uint32_t>(prepared->peers);
  h->max_workers = max_workers;
  h->upstreams_offset = l.upstreams;
  h->peers_offset = l.peers;
  h->workers_offset = l.workers;
  h->versions_offset = l.versions;
  h->strings_offset = l.strings;
  h->strings_bytes = l.strings_bytes;

  char* pool = base + l.strings;
  uint32_t used = 0;
  auto put = [&](std::string_view s) {
    std::memcpy(pool + used, s.data(), s.size());
    StringRefShm ref{used, static_cast<uint32_t>(s.size())};
    used += static_cast<uint32_t>(s.size());
    return ref;
  };
  auto* ups = reinterpret_cast<UpstreamShm*>(base + l.upstreams);
  auto* peers = reinterpret_cast<PeerShm*>(base + l.peers);
  const Upstreams& view = prepared->view;
  uint32_t next_peer = 0;
  for (size_t u = 0; u < upstreams.size(); ++u) {
    UpstreamShm* us = new (&ups[u]) UpstreamShm{};
    us->name = put(view.upstream_name(u));
    if (upstreams[u].check) us->check_json = put(CheckJson(*upstreams[u].check));
    us->first_peer = next_peer;
    us->primary_count = static_cast<uint32_t>(view.primary_peers(u).size());
    us->backup_count = static_cast<uint32_t>(view.backup_peers(u).size());
    for (auto list : {view.primary_peers(u), view.backup_peers(u)}) {
      for (const PeerInfo& p : list) {
        PeerShm* ps = new (&peers[next_peer++]) PeerShm{};
        ps->name = put(p.name);
        ps->upstream = static_cast<uint32_t>(u);
        ps->id = p.id;
        ps->backup = p.backup;
        ps->configured_down = p.down;
      }
    }
  }
  return Registry(h, l.total);
}

Result<Registry> Registry::Attach(const Segment& segment) {
  size_t bytes = 0;
  auto* h = static_cast<RegistryHeaderShm*>(segment.area(SegmentArea::kRegistry, &bytes));
  std::string who = "segment '" + segment.name() + "'";
  if (h == nullptr) {
    return Result<Registry>::Error(who + " has no registry: it was created without a daemon");
  }
  auto bad = [&](const char* what) {
    return Result<Registry>::Error(who + " has a corrupt registry: " + what);
  };
  if (bytes < sizeof(RegistryHeaderShm) || h->magic != shm::kRegistryMagic || h->bytes != bytes) {
    return bad("bad header");
  }
  // Bound every count by the area first, so that Plan() cannot wrap around.
  if (h->upstream_count > bytes / sizeof(UpstreamShm) || h->peer_count > bytes / sizeof(PeerShm) ||
      h->max_workers > bytes / sizeof(WorkerSlotShm) || h->strings_bytes > bytes ||
      uint64_t{h->max_workers} * h->upstream_count > bytes / sizeof(uint64_t)) {
    return bad("tables out of bounds");
  }
  Layout l = Plan(h->upstream_count, h->peer_count, h->max_workers, h->strings_bytes);
  if (l.total > bytes || l.upstreams != h->upstreams_offset || l.peers != h->peers_offset ||
      l.workers != h->workers_offset || l.versions != h->versions_offset ||
      l.strings != h->strings_offset) {
    return bad("tables out of bounds");
  }
  Registry r(h, bytes);
  auto in_pool = [&](StringRefShm s) { return uint64_t{s.offset} + s.length <= h->strings_bytes; };
  auto* ups = reinterpret_cast<UpstreamShm*>(reinterpret_cast<char*>(h) + h->upstreams_offset);
  auto* peers = reinterpret_cast<PeerShm*>(reinterpret_cast<char*>(h) + h->peers_offset);
  for (uint32_t u = 0; u < h->upstream_count; ++u) {
    if (!in_pool(ups[u].name) || !in_pool(ups[u].check_json) ||
        uint64_t{ups[u].first_peer} + ups[u].primary_count + ups[u].backup_count > h->peer_count) {
      return bad("an upstream record is out of bounds");
    }
  }
  for (uint32_t p = 0; p < h->peer_count; ++p) {
    if (!in_pool(peers[p].name) || peers[p].upstream >= h->upstream_count) {
      return bad("a peer record is out of bounds");
    }
  }
  return r;
}

namespace {

char* Base(RegistryHeaderShm* h) { return reinterpret_cast<char*>(h); }
UpstreamShm& Up(RegistryHeaderShm* h, size_t u) {
  return reinterpret_cast<UpstreamShm*>(Base(h) + h->upstreams_offset)[u];
}
PeerShm& PeerAt(RegistryHeaderShm* h, size_t index) {
  return reinterpret_cast<PeerShm*>(Base(h) + h->peers_offset)[index];
}
WorkerSlotShm& Slot(RegistryHeaderShm* h, size_t s) {
  return reinterpret_cast<WorkerSlotShm*>(Base(h) + h->workers_offset)[s];
}
std::atomic<uint64_t>& Version(RegistryHeaderShm* h, size_t slot, size_t u) {
  return reinterpret_cast<std::atomic<uint64_t>*>(Base(h) +
                                                  h->versions_offset)[slot * h->upstream_count + u];
}
std::string_view Str(RegistryHeaderShm* h, StringRefShm s) {
  return std::string_view(Base(h) + h->strings_offset + s.offset, s.length);
}

}  // namespace

size_t Registry::upstream_count() const { return h_->upstream_count; }
std::string_view Registry::upstream_name(size_t u) const { return Str(h_, Up(h_, u).name); }
bool Registry::has_check(size_t u) const { return Up(h_, u).check_json.length > 0; }
std::string_view Registry::check_json(size_t u) const { return Str(h_, Up(h_, u).check_json); }
size_t Registry::peer_count(size_t u) const {
  return size_t{Up(h_, u).primary_count} + Up(h_, u).backup_count;
}

std::optional<size_t> Registry::FindUpstream(std::string_view name) const {
  for (size_t u = 0; u < h_->upstream_count; ++u) {
    if (upstream_name(u) == name) return u;
  }
  return std::nullopt;
}

Registry::Peer Registry::peer(size_t u, size_t k) const {
  const PeerShm& p = PeerAt(h_, Up(h_, u).first_peer + k);
  return Peer{Str(h_, p.name), p.backup != 0, p.id, p.configured_down != 0};
}

Result<Upstreams> Registry::BuildUpstreams() const {
  Upstreams view;
  for (size_t u = 0; u < upstream_count(); ++u) {
    std::vector<PeerConfig> primary, backup;
    for (size_t k = 0; k < peer_count(u); ++k) {
      Peer p = peer(u, k);
      (p.backup ? backup : primary).push_back(PeerConfig{std::string(p.name), p.configured_down});
    }
    if (Status st = view.AddUpstream(std::string(upstream_name(u)), primary, backup); !st.ok()) {
      return st;
    }
  }
  return view;
}

void Registry::RecordCheck(const PeerCheckEvent& e) {
  std::optional<size_t> u = FindUpstream(e.upstream);
  if (!u) return;
  const UpstreamShm& us = Up(h_, *u);
  size_t k = (e.backup ? us.primary_count : 0) + e.id;
  if (k >= size_t{us.primary_count} + us.backup_count) return;
  PeerDetailsShm& d = PeerAt(h_, us.first_peer + k).details;
  uint8_t step = 1;
  for (uint8_t i = 0; i < std::size(kSteps); ++i) {
    if (e.ok ? i == 0 : kSteps[i] == e.step) step = static_cast<uint8_t>(i + 1);
  }
  // Sequence lock: odd while writing; readers retry until they see an even, unchanged seq.
  // Writers take it by compare-and-swap from even to odd: two workers may record the same
  // peer at once (cycles that overlap, NG1), and a plain load-and-store would let their
  // counts interleave into an odd seq for good, hiding the record from every reader. A
  // seq found odd (a writer busy, or killed in the middle) is taken over after a short
  // wait by moving to the next odd value; whoever still holds its own value makes it even.
  constexpr int kTakeOverSpins = 1024;
  uint32_t seq = d.seq.load(std::memory_order_relaxed);
  for (int spins = 0;; ++spins) {
    if ((seq & 1) != 0 && spins < kTakeOverSpins) {
      seq = d.seq.load(std::memory_order_relaxed);
      continue;
    }
    uint32_t mine = (seq & 1) != 0 ? seq + 2 : seq + 1;
    if (d.seq.compare_exchange_weak(seq, mine, std::memory_order_relaxed)) {
      seq = mine;
      break;
    }
  }
  std::atomic_thread_fence(std::memory_order_release);
  d.checks.fetch_add(1, std::memory_order_relaxed);
  if (!e.ok) d.failures.fetch_add(1, std::memory_order_relaxed);
  if (e.transition > 0) d.turned_up.fetch_add(1, std::memory_order_relaxed);
  if (e.transition < 0) d.turned_down.fetch_add(1, std::memory_order_relaxed);
  if (e.transition != 0) d.last_change_ms.store(e.unix_ms, std::memory_order_relaxed);
  d.last_check_ms.store(e.unix_ms, std::memory_order_relaxed);
  d.duration_us.store(static_cast<uint32_t>(e.duration_ms * 1000), std::memory_order_relaxed);
  d.result.store(step, std::memory_order_relaxed);
  d.timed_out.store(e.result == "timeout", std::memory_order_relaxed);
  size_t n = std::min(e.detail.size(), sizeof(d.detail));
  if (n > 0) std::memcpy(d.detail, e.detail.data(), n);
  d.detail_len.store(static_cast<uint8_t>(n), std::memory_order_relaxed);
  // Fails only when another writer took the record over meanwhile; it ends it.
  d.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_release, std::memory_order_relaxed);
}

PeerDetails Registry::details(size_t u, bool backup, uint32_t id) const {
  PeerDetails out;
  if (u >= h_->upstream_count) return out;
  const UpstreamShm& us = Up(h_, u);
  size_t k = (backup ? us.primary_count : 0) + id;
  if (k >= size_t{us.primary_count} + us.backup_count) return out;
  const PeerShm& p = PeerAt(h_, us.first_peer + k);
  const PeerDetailsShm& d = p.details;
  uint8_t step = 0;
  bool timed_out = false;
  std::string detail;
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint32_t seq = d.seq.load(std::memory_order_acquire);
    if (seq & 1) continue;
    out.checks = d.checks.load(std::memory_order_relaxed);
    out.failures = d.failures.load(std::memory_order_relaxed);
    out.turned_up = d.turned_up.load(std::memory_order_relaxed);
    out.turned_down = d.turned_down.load(std::memory_order_relaxed);
    out.last_check_ms = d.last_check_ms.load(std::memory_order_relaxed);
    out.last_change_ms = d.last_change_ms.load(std::memory_order_relaxed);
    out.last_duration_ms = d.duration_us.load(std::memory_order_relaxed) / 1000.0;
    step = d.result.load(std::memory_order_relaxed);
    timed_out = d.timed_out.load(std::memory_order_relaxed) != 0;
    size_t n = std::min<size_t>(d.detail_len.load(std::memory_order_relaxed), sizeof(d.detail));
    detail.assign(d.detail, n);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (d.seq.load(std::memory_order_relaxed) == seq) break;
  }
  if (step == 0 || step > std::size(kSteps)) return out;
  auto kind = static_cast<ProbeKind>(step - 1);
  out.last_result = timed_out ? "timeout" : std::string(kSteps[step - 1]);
  if (kind != ProbeKind::kOk)
    out.last_error = ProbeMessage(kind, std::string(Str(h_, p.name)), detail);
  return out;
}

uint32_t Registry::max_workers() const { return h_->max_workers; }

Result<uint32_t> Registry::ClaimWorkerSlot(int32_t pid) {
  for (uint32_t s = 0; s < h_->max_workers; ++s) {
    WorkerSlotShm& w = Slot(h_, s);
    uint32_t expected = static_cast<uint32_t>(WorkerState::kFree);
    if (!w.state.compare_exchange_strong(expected, static_cast<uint32_t>(WorkerState::kStarting))) {
      continue;
    }
    w.pid.store(pid);
    w.checkers.store(0);
    w.started_ms.store(UnixMs());
    w.cycle_start_ms.store(0);
    w.cycle_end_ms.store(0);
    w.cycles.store(0);
    for (size_t u = 0; u < h_->upstream_count; ++u) Version(h_, s, u).store(0);
    return s;
  }
  return Result<uint32_t>::Error("the worker table is full (" + std::to_string(h_->max_workers) +
                                 " slots)");
}

void Registry::SetWorkerState(uint32_t slot, WorkerState state) {
  if (slot < h_->max_workers) Slot(h_, slot).state.store(static_cast<uint32_t>(state));
}

void Registry::SetWorkerCheckers(uint32_t slot, uint32_t checkers) {
  if (slot < h_->max_workers) Slot(h_, slot).checkers.store(checkers);
}

void Registry::RecordCycle(uint32_t slot, const CycleEvent& e) {
  std::optional<size_t> u = FindUpstream(e.upstream);
  if (slot >= h_->max_workers || !u) return;
  WorkerSlotShm& w = Slot(h_, slot);
  if (e.end) {
    w.cycle_end_ms.store(UnixMs(), std::memory_order_relaxed);
    w.cycles.fetch_add(1, std::memory_order_relaxed);
    Version(h_, slot, *u).store(std::bit_cast<uint64_t>(e.version), std::memory_order_relaxed);
  } else {
    w.cycle_start_ms.store(UnixMs(), std::memory_order_relaxed);
  }
}

void Registry::ReleaseWorkerSlot(uint32_t slot) {
  if (slot >= h_->max_workers) return;
  WorkerSlotShm& w = Slot(h_, slot);
  w.pid.store(0);
  w.state.store(static_cast<uint32_t>(WorkerState::kFree));
}

std::vector<WorkerRow> Registry::Workers() const {
  std::vector<WorkerRow> rows;
  for (uint32_t s = 0; s < h_->max_workers; ++s) {
    WorkerSlotShm& w = Slot(h_, s);
    auto state = static_cast<WorkerState>(w.state.load());
    if (state == WorkerState::kFree) continue;
    WorkerRow r;
    r.slot = s;
    r.pid = w.pid.load();
    r.state = state;
    r.started_ms = w.started_ms.load();
    r.checkers = w.checkers.load();
    r.last_cycle_start_ms = w.cycle_start_ms.load();
    r.last_cycle_end_ms = w.cycle_end_ms.load();
    r.cycles = w.cycles.load();
    for (size_t u = 0; u < h_->upstream_count; ++u)
      r.versions.push_back(std::bit_cast<double>(Version(h_, s, u).load()));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::atomic<uint64_t>* Registry::version_hint(size_t u) {
  return u < h_->upstream_count ? &Up(h_, u).published_version : nullptr;
}

double Registry::published_version(size_t u) const {
  return u < h_->upstream_count ? std::bit_cast<double>(Up(h_, u).published_version.load()) : 0;
}

}  // namespace upcheck

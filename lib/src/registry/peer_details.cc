// Registry's per-peer details: RecordCheck writes a checker's event into the peer's record
// under a sequence lock; details() reads it back and renders the texts (last_result,
// last_error) with the probe layer's own renderer, so that they match the log line.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "probe/probe_result.h"
#include "registry/registry_access.h"
#include "registry/registry_layout.h"
#include "registry/seq_lock.h"
#include "upcheck/internal/registry.h"
#include "util/clock.h"

namespace upcheck {

using shm::BeginWrite;
using shm::EndWrite;
using shm::PeerAt;
using shm::PeerDetailsShm;
using shm::Str;
using shm::Up;
using shm::UpstreamShm;

namespace {

constexpr uint8_t kLastKind = static_cast<uint8_t>(ProbeKind::kReceiveResponse);

void Write(PeerDetailsShm& d, const PeerCheckEvent& e) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  d.checks.fetch_add(1, kRelaxed);
  if (!e.ok()) {
    d.failures.fetch_add(1, kRelaxed);
    const size_t r = FailureResultIndex(ProbeResultName(e.kind, e.timed_out));
    if (r < kFailureResults.size()) d.failures_by_result[r].fetch_add(1, kRelaxed);
  }
  if (e.transition == HealthTransition::kTurnedUp) d.turned_up.fetch_add(1, kRelaxed);
  if (e.transition == HealthTransition::kTurnedDown) d.turned_down.fetch_add(1, kRelaxed);
  if (e.transition != HealthTransition::kUnchanged) d.last_change_ms.store(e.unix_ms, kRelaxed);
  d.last_check_ms.store(e.unix_ms, kRelaxed);
  d.next_check_ms.store(e.next_check_unix_ms, kRelaxed);
  d.last_duration_ms.store(static_cast<uint32_t>(e.duration_ms * 1000), kRelaxed);
  d.kind.store(static_cast<uint8_t>(1 + static_cast<uint8_t>(e.kind)), kRelaxed);
  d.timed_out.store(e.timed_out, kRelaxed);
  size_t n = std::min(e.detail.size(), sizeof(d.detail));
  if (n > 0) std::memcpy(d.detail, e.detail.data(), n);
  d.detail_len.store(static_cast<uint8_t>(n), kRelaxed);
}

// How details() reads each kind of field of peer_fields.h back (OUTCOME: rendered after).
#define UPCHECK_PEER_LOAD_U64(member) out.member = d.member.load(std::memory_order_relaxed);
#define UPCHECK_PEER_LOAD_U32(member) out.member = d.member.load(std::memory_order_relaxed);
#define UPCHECK_PEER_LOAD_I64(member) out.member = d.member.load(std::memory_order_relaxed);
#define UPCHECK_PEER_LOAD_US(member) out.member = d.member.load(std::memory_order_relaxed) / 1000.0;
#define UPCHECK_PEER_LOAD_BY_RESULT(member)                      \
  for (size_t r = 0; r < kFailureResults.size(); ++r) {          \
    out.member[r] = d.member[r].load(std::memory_order_relaxed); \
  }
#define UPCHECK_PEER_LOAD_OUTCOME(member)
#define UPCHECK_PEER_LOAD(member, type, shm, json_key, json) UPCHECK_PEER_LOAD_##shm(member)

struct Outcome {
  uint8_t kind = 0;  // 0: never checked; 1 + ProbeKind
  bool timed_out = false;
  std::string detail;
};

// A consistent copy of the record: retried while a writer holds the sequence lock.
Outcome Read(const PeerDetailsShm& d, PeerDetails& out) {
  Outcome o;
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint32_t seq = d.seq.load(std::memory_order_acquire);
    if (seq & 1) continue;
    UPCHECK_PEER_FIELDS(UPCHECK_PEER_LOAD)
    o.kind = d.kind.load(std::memory_order_relaxed);
    o.timed_out = d.timed_out.load(std::memory_order_relaxed) != 0;
    size_t n = std::min<size_t>(d.detail_len.load(std::memory_order_relaxed), sizeof(d.detail));
    o.detail.assign(d.detail, n);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (d.seq.load(std::memory_order_relaxed) == seq) break;
  }
  return o;
}

// The journal's record of a transition or of a streak's first failure.
JournalEvent CheckJournalEvent(const PeerCheckEvent& e) {
  JournalEvent j;
  j.unix_ms = e.unix_ms;
  j.upstream = std::string(e.upstream);
  j.peer = std::string(e.peer);
  j.backup = e.backup;
  if (!e.ok()) j.detail = ProbeMessage(e.kind, j.peer, std::string(e.detail));
  if (e.transition == HealthTransition::kTurnedDown) {
    j.kind = EventKind::kDown;
    j.message = fmt::format("peer {} is turned down after {} failure(s)", e.peer, e.streak);
  } else if (e.transition == HealthTransition::kTurnedUp) {
    j.kind = EventKind::kUp;
    j.message = fmt::format("peer {} is turned up after {} success(es)", e.peer, e.streak);
  } else {
    j.kind = EventKind::kFailure;
    j.message = fmt::format("peer {} started failing", e.peer);
  }
  return j;
}

}  // namespace

PeerDetailsShm* Registry::FindDetails(std::string_view upstream, bool backup, uint32_t id) const {
  std::optional<size_t> u = FindUpstream(upstream);
  if (!u) return nullptr;
  const UpstreamShm& us = Up(h_, *u);
  size_t k = (backup ? us.primary_count : 0) + id;
  if (k >= size_t{us.primary_count} + us.backup_count) return nullptr;
  return &PeerAt(h_, us.first_peer + k).details;
}

void Registry::RecordCheck(const PeerCheckEvent& e) {
  PeerDetailsShm* d = FindDetails(e.upstream, e.backup, e.id);
  if (d == nullptr) return;
  const uint8_t before = d->kind.load(std::memory_order_relaxed);
  const uint32_t seq = BeginWrite(d->seq);
  Write(*d, e);
  EndWrite(d->seq, seq);
  const bool after_success = before == 0 || before == 1 + static_cast<uint8_t>(ProbeKind::kOk);
  if (e.transition != HealthTransition::kUnchanged || (!e.ok() && after_success)) {
    AppendEvent(CheckJournalEvent(e));
  }
}

// Counters alone, outside the sequence lock: each is one atomic add, and the balancers of
// every worker report at once, where the lock has one writer in mind.
void Registry::RecordPassive(std::string_view upstream, bool backup, uint32_t id,
                             PassiveResult result, HealthTransition transition) {
  PeerDetailsShm* d = FindDetails(upstream, backup, id);
  if (d == nullptr) return;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  if (result != PassiveResult::kOk) d->passive_failures.fetch_add(1, kRelaxed);
  if (transition == HealthTransition::kTurnedDown) {
    d->turned_down.fetch_add(1, kRelaxed);
    d->last_change_ms.store(UnixMs(), kRelaxed);
    const std::optional<size_t> u = FindUpstream(upstream);
    JournalEvent event;
    event.kind = EventKind::kDown;
    event.upstream = std::string(upstream);
    event.peer = u ? std::string(peer(*u, (backup ? Up(h_, *u).primary_count : 0) + id).name)
                   : std::string();
    event.backup = backup;
    event.message = "peer " + event.peer + " is turned down by passive checks";
    event.detail = std::string("balancer saw ") + std::string(PassiveResultName(result));
    AppendEvent(event);
  }
}

void Registry::RecordSkip(const PeerSkipEvent& e) {
  PeerDetailsShm* d = FindDetails(e.upstream, e.backup, e.id);
  if (d != nullptr) d->active_skipped.fetch_add(1, std::memory_order_relaxed);
}

PeerDetails Registry::details(size_t u, bool backup, uint32_t id) const {
  PeerDetails out;
  if (u >= h_->upstream_count) return out;
  const UpstreamShm& us = Up(h_, u);
  size_t k = (backup ? us.primary_count : 0) + id;
  if (k >= size_t{us.primary_count} + us.backup_count) return out;
  const shm::PeerShm& p = PeerAt(h_, us.first_peer + k);
  const Outcome o = Read(p.details, out);
  if (o.kind == 0 || o.kind > 1 + kLastKind) return out;
  const auto kind = static_cast<ProbeKind>(o.kind - 1);
  out.last_result = ProbeResultName(kind, o.timed_out);
  if (kind != ProbeKind::kOk) {
    out.last_error = ProbeMessage(kind, std::string(Str(h_, p.name)), o.detail);
  }
  return out;
}

}  // namespace upcheck

// Registry's per-peer admin state: written by upcheck-shmctl under the record's sequence
// lock, then announced by bumping the upstream's admin_seq, which pickers poll with one
// load (AdminSync). Expiry is judged by the reader, so nothing has to run when it passes.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "registry/registry_access.h"
#include "registry/registry_layout.h"
#include "registry/seq_lock.h"
#include "upcheck/internal/registry.h"

namespace upcheck {

using shm::AdminShm;
using shm::PeerAt;
using shm::Up;
using shm::UpstreamShm;

namespace {

// The peer's record, or nullptr when (u, backup, id) names none.
AdminShm* Find(shm::RegistryHeaderShm* h, size_t u, bool backup, uint32_t id) {
  if (u >= h->upstream_count) return nullptr;
  const UpstreamShm& us = Up(h, u);
  if (id >= (backup ? us.backup_count : us.primary_count)) return nullptr;
  return &PeerAt(h, us.first_peer + (backup ? us.primary_count : 0) + id).admin;
}

}  // namespace

Status Registry::SetAdmin(size_t u, bool backup, uint32_t id, const PeerAdmin& admin) {
  if (Status st = StoreAdmin(u, backup, id, admin); !st.ok()) return st;
  JournalEvent e;
  e.kind = EventKind::kAdmin;
  e.upstream = std::string(upstream_name(u));
  e.peer = std::string(peer(u, (backup ? Up(h_, u).primary_count : 0) + id).name);
  e.backup = backup;
  e.admin = admin.state;
  e.expires_ms = admin.state == AdminState::kAuto ? 0 : admin.expires_ms;
  e.detail = admin.state == AdminState::kAuto ? "" : admin.reason;
  e.message = admin.state == AdminState::kAuto
                  ? "peer " + e.peer + " is back to auto: the checks decide"
                  : "peer " + e.peer + " is set to " + std::string(AdminStateName(admin.state));
  AppendEvent(e);
  return Status::Ok();
}

// The store alone: a reload's carry-over takes the journal whole, so it must not add to it.
Status Registry::StoreAdmin(size_t u, bool backup, uint32_t id, const PeerAdmin& admin) {
  AdminShm* a = Find(h_, u, backup, id);
  if (a == nullptr) return Status::Error("no such peer");
  if (admin.reason.size() > shm::kAdminReasonBytes) {
    return Status::Error("reason is " + std::to_string(admin.reason.size()) + " bytes, at most " +
                         std::to_string(shm::kAdminReasonBytes) + " are kept");
  }
  const bool automatic = admin.state == AdminState::kAuto;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  const uint32_t seq = shm::BeginWrite(a->seq);
  a->state.store(static_cast<uint8_t>(admin.state), kRelaxed);
  a->expires_ms.store(automatic ? 0 : admin.expires_ms, kRelaxed);
  a->changed_ms.store(admin.changed_ms, kRelaxed);
  const size_t n = automatic ? 0 : admin.reason.size();
  if (n > 0) std::memcpy(a->reason, admin.reason.data(), n);
  a->reason_len.store(static_cast<uint8_t>(n), kRelaxed);
  shm::EndWrite(a->seq, seq);
  Up(h_, u).admin_seq.fetch_add(1, std::memory_order_release);
  return Status::Ok();
}

PeerAdmin Registry::admin(size_t u, bool backup, uint32_t id, int64_t now_ms) const {
  PeerAdmin out;
  const AdminShm* a = Find(h_, u, backup, id);
  if (a == nullptr) return out;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  uint8_t state = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint32_t seq = a->seq.load(std::memory_order_acquire);
    if (seq & 1) continue;
    state = a->state.load(kRelaxed);
    out.expires_ms = a->expires_ms.load(kRelaxed);
    out.changed_ms = a->changed_ms.load(kRelaxed);
    const size_t n = std::min<size_t>(a->reason_len.load(kRelaxed), sizeof(a->reason));
    out.reason.assign(a->reason, n);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (a->seq.load(kRelaxed) == seq) break;
  }
  const bool expired = out.expires_ms > 0 && out.expires_ms <= now_ms;
  if (state > static_cast<uint8_t>(AdminState::kDrain) || expired) {
    PeerAdmin cleared;
    cleared.changed_ms = out.changed_ms;
    return cleared;
  }
  out.state = static_cast<AdminState>(state);
  return out;
}

uint64_t Registry::admin_seq(size_t u) const {
  return u < h_->upstream_count ? Up(h_, u).admin_seq.load(std::memory_order_acquire) : 0;
}

size_t Registry::CarryAdminStates(const Registry& old, int64_t now_ms) {
  size_t carried = 0;
  for (size_t u = 0; u < upstream_count(); ++u) {
    const std::optional<size_t> from = old.FindUpstream(upstream_name(u));
    if (!from) continue;
    for (size_t k = 0; k < peer_count(u); ++k) {
      const Peer p = peer(u, k);
      for (size_t j = 0; j < old.peer_count(*from); ++j) {
        const Peer q = old.peer(*from, j);
        if (q.backup != p.backup || q.name != p.name) continue;
        const PeerAdmin a = old.admin(*from, q.backup, q.id, now_ms);
        if (a.state != AdminState::kAuto && StoreAdmin(u, p.backup, p.id, a).ok()) ++carried;
        break;
      }
    }
  }
  return carried;
}

}  // namespace upcheck

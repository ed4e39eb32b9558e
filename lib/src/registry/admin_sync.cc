#include "upcheck/internal/admin_sync.h"

#include <algorithm>

#include "util/clock.h"

namespace upcheck {

void AdminSync::Sync(Upstreams& view, size_t index) {
  if (index >= view.upstream_count()) return;
  while (applied_.size() <= index) {
    Applied a;
    a.registry_index = registry_.FindUpstream(view.upstream_name(applied_.size()));
    applied_.push_back(a);
  }
  Applied& a = applied_[index];
  if (!a.registry_index) return;
  const uint64_t seq = registry_.admin_seq(*a.registry_index);
  const bool moved = !a.synced || seq != a.seq;
  if (!moved && a.next_expiry_ms == 0) return;
  const int64_t now = UnixMs();
  if (!moved && now < a.next_expiry_ms) return;
  a.next_expiry_ms = 0;
  for (bool backup : {false, true}) {
    const size_t count =
        backup ? view.backup_peers(index).size() : view.primary_peers(index).size();
    for (uint32_t id = 0; id < count; ++id) {
      const PeerAdmin admin = registry_.admin(*a.registry_index, backup, id, now);
      (void)view.SetPeerAdmin(index, backup, id, admin.state);
      if (admin.state != AdminState::kAuto && admin.expires_ms > 0) {
        a.next_expiry_ms =
            a.next_expiry_ms == 0 ? admin.expires_ms : std::min(a.next_expiry_ms, admin.expires_ms);
      }
    }
  }
  a.synced = true;
  a.seq = seq;
}

void AdminSync::SyncAll(Upstreams& view) {
  for (size_t i = 0; i < view.upstream_count(); ++i) Sync(view, i);
}

}  // namespace upcheck

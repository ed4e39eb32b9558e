// Registry internals: the tables of a registry area, found from its header. The caller
// has checked the area (Registry::Create or Attach) and bounds the index it passes.
#ifndef UPCHECK_REGISTRY_REGISTRY_ACCESS_H_
#define UPCHECK_REGISTRY_REGISTRY_ACCESS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "registry/registry_access.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/registry_layout.h"

namespace upcheck::shm {

inline char* Base(RegistryHeaderShm* h) { return reinterpret_cast<char*>(h); }
inline UpstreamShm& Up(RegistryHeaderShm* h, size_t u) {
  return reinterpret_cast<UpstreamShm*>(Base(h) + h->upstreams_offset)[u];
}
inline PeerShm& PeerAt(RegistryHeaderShm* h, size_t index) {
  return reinterpret_cast<PeerShm*>(Base(h) + h->peers_offset)[index];
}
inline WorkerSlotShm& Slot(RegistryHeaderShm* h, size_t s) {
  return reinterpret_cast<WorkerSlotShm*>(Base(h) + h->workers_offset)[s];
}
inline std::atomic<uint64_t>& Version(RegistryHeaderShm* h, size_t slot, size_t u) {
  return reinterpret_cast<std::atomic<uint64_t>*>(Base(h) +
                                                  h->versions_offset)[slot * h->upstream_count + u];
}
inline std::string_view Str(RegistryHeaderShm* h, StringRefShm s) {
  return std::string_view(Base(h) + h->strings_offset + s.offset, s.length);
}

}  // namespace upcheck::shm

#endif  // UPCHECK_REGISTRY_REGISTRY_ACCESS_H_

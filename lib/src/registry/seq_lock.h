// The registry's sequence lock: many writers (any attached process) and lock-free readers
// over one record of atomics. Writers take it by compare-and-swap from even to odd; a
// reader copies the record between two equal even loads. No process ever blocks on it.
#ifndef UPCHECK_REGISTRY_SEQ_LOCK_H_
#define UPCHECK_REGISTRY_SEQ_LOCK_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "registry/seq_lock.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstdint>

namespace upcheck::shm {

// Takes the record's sequence lock and returns the odd value held. Two writers may record
// the same peer at once (cycles that overlap, NG1), and a plain load-and-store would let
// their counts interleave into an odd seq for good, hiding the record from every reader.
// A seq found odd (a writer busy, or killed in the middle) is taken over after a short
// wait by moving to the next odd value; whoever still holds its own value makes it even
// (EndWrite).
inline uint32_t BeginWrite(std::atomic<uint32_t>& word) {
  constexpr int kTakeOverSpins = 1024;
  uint32_t seq = word.load(std::memory_order_relaxed);
  for (int spins = 0;; ++spins) {
    if ((seq & 1) != 0 && spins < kTakeOverSpins) {
      seq = word.load(std::memory_order_relaxed);
      continue;
    }
    uint32_t mine = (seq & 1) != 0 ? seq + 2 : seq + 1;
    if (word.compare_exchange_weak(seq, mine, std::memory_order_relaxed)) {
      std::atomic_thread_fence(std::memory_order_release);
      return mine;
    }
  }
}

// Fails only when another writer took the record over meanwhile; it ends it.
inline void EndWrite(std::atomic<uint32_t>& word, uint32_t seq) {
  word.compare_exchange_strong(seq, seq + 1, std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace upcheck::shm

#endif  // UPCHECK_REGISTRY_SEQ_LOCK_H_

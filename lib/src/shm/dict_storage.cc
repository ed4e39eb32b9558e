#include "shm/dict_storage.h"

#include <errno.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

namespace upcheck::shm {
namespace {

void (*g_locked_hook)() = nullptr;

constexpr size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace

void SetLockedHook(void (*hook)()) { g_locked_hook = hook; }
void RunLockedHook() {
  if (g_locked_hook != nullptr) g_locked_hook();
}

uint32_t HashKey(std::string_view key) {
  // FNV-1a, then a final avalanche so that the low bits used for buckets mix well.
  uint32_t h = 2166136261u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  return h;
}

DictLock::DictLock(DictShm* d) : d_(d) {
  int rc = pthread_mutex_lock(&d_->mutex);
  if (rc == EOWNERDEAD) {
    // The holder died inside an operation: the lists may be half-changed. Rebuild them
    // from the chunks, then mark the mutex usable again.
    DictStorage(d_).RepairLocked();
    pthread_mutex_consistent(&d_->mutex);
  } else if (rc != 0) {
    // ENOTRECOVERABLE cannot happen: every EOWNERDEAD path above calls consistent.
    // NOLINTNEXTLINE(concurrency-mt-unsafe): at worst a garbled message, then abort.
    std::fprintf(stderr, "upcheck: shared dict lock failed: %s\n", std::strerror(rc));
    std::abort();
  }
}

DictLock::~DictLock() { pthread_mutex_unlock(&d_->mutex); }

namespace {

// One bucket per two chunks, rounded up to a power of two.
uint32_t BucketCountFor(size_t chunks) {
  uint32_t bucket_count = 1;
  while (bucket_count < chunks / 2) bucket_count <<= 1;
  return bucket_count;
}

size_t BucketsBytes(size_t chunks) {
  return AlignUp(size_t{BucketCountFor(chunks)} * sizeof(uint32_t), kChunkSize);
}

}  // namespace

size_t DictAreaBytes(size_t chunks) {
  return AlignUp(sizeof(DictShm), kChunkSize) + BucketsBytes(chunks) + chunks * kChunkSize;
}

Result<DictShm*> FormatDict(void* memory, size_t bytes) {
  // The most chunks that fit: DictAreaBytes grows with the chunk count.
  size_t lo = 0, hi = std::min<size_t>(bytes / kChunkSize, kNil - 1);
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    if (DictAreaBytes(mid) <= bytes) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const size_t chunk_count = lo;
  if (chunk_count < kMinDictChunks) {
    return Result<DictShm*>::Error("dict area of " + std::to_string(bytes) + " bytes is too small");
  }
  const size_t header = AlignUp(sizeof(DictShm), kChunkSize);
  const uint32_t bucket_count = BucketCountFor(chunk_count);
  const size_t buckets_bytes = BucketsBytes(chunk_count);

  auto* d = new (memory) DictShm{};
  d->magic = kDictMagic;
  d->bytes = bytes;
  d->chunk_count = static_cast<uint32_t>(chunk_count);
  d->bucket_count = bucket_count;
  d->buckets_offset = header;
  d->chunks_offset = header + buckets_bytes;

  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(&d->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    return Result<DictShm*>::Error("cannot initialise the dict lock: " +
                                   std::generic_category().message(rc));
  }

  uint32_t* buckets = Buckets(d);
  for (uint32_t b = 0; b < bucket_count; ++b) buckets[b] = kNil;
  DictChunkShm* chunks = Chunks(d);
  for (uint32_t i = 0; i < d->chunk_count; ++i) {
    chunks[i].common.kind = ChunkKind::kFree;
    chunks[i].common.next = i + 1 < d->chunk_count ? i + 1 : kNil;
  }
  d->free_head = 0;
  d->free_count = d->chunk_count;
  d->lru_head = d->lru_tail = kNil;
  d->entries = 0;
  d->intent = DictIntentShm{kNil, kNil, kNil, ValueType::kNumber, 0, {}, {}};
  return d;
}

Status ValidateDictHeader(const DictShm* d, size_t bytes) {
  if (bytes < sizeof(DictShm)) return Status::Error("dict area is smaller than its header");
  if (d->magic != kDictMagic) return Status::Error("dict area has a bad magic number");
  if (d->bytes != bytes) return Status::Error("dict area size does not match the segment");
  uint32_t bc = d->bucket_count;
  if (bc == 0 || (bc & (bc - 1)) != 0) {
    return Status::Error("dict bucket count is not a power of two");
  }
  // Every term is checked against bytes before it is added, so no sum can wrap.
  if (d->buckets_offset < sizeof(DictShm) || d->buckets_offset % sizeof(uint32_t) != 0 ||
      d->chunks_offset > bytes || d->buckets_offset > d->chunks_offset ||
      uint64_t{bc} * sizeof(uint32_t) > d->chunks_offset - d->buckets_offset ||
      d->chunks_offset % kChunkSize != 0 || d->chunk_count == 0 || d->chunk_count >= kNil ||
      uint64_t{d->chunk_count} * kChunkSize > bytes - d->chunks_offset) {
    return Status::Error("dict area layout is out of bounds");
  }
  return Status::Ok();
}

bool DictStorage::KeyEquals(uint32_t i, std::string_view key) {
  const HeadChunkShm& h = chunks_[i].head;
  if (h.key_len != key.size()) return false;
  size_t n = key.size() < kHeadData ? key.size() : kHeadData;
  if (std::memcmp(h.data, key.data(), n) != 0) return false;
  size_t off = n;
  uint32_t c = h.next;
  while (off < key.size()) {
    if (c >= d_->chunk_count) return false;  // kNil, or an index some corruption left
    size_t m = key.size() - off < kContData ? key.size() - off : kContData;
    if (std::memcmp(chunks_[c].cont.data, key.data() + off, m) != 0) return false;
    off += m;
    c = chunks_[c].cont.next;
  }
  return true;
}

void DictStorage::CopyOut(uint32_t i, size_t offset, size_t len, char* out) {
  // Copies len bytes of the entry's key+value stream, starting at offset.
  uint32_t c = i;
  size_t base = 0;
  size_t cap = kHeadData;
  const char* data = chunks_[i].head.data;
  while (len > 0) {
    if (offset < base + cap) {
      size_t from = offset - base;
      size_t m = cap - from < len ? cap - from : len;
      std::memcpy(out, data + from, m);
      out += m;
      offset += m;
      len -= m;
    }
    base += cap;
    c = chunks_[c].common.next;
    if (c >= d_->chunk_count) break;  // the end (kNil), or a corrupt index
    data = chunks_[c].cont.data;
    cap = kContData;
  }
}

std::string DictStorage::KeyOf(uint32_t i) {
  std::string key(chunks_[i].head.key_len, '\0');
  CopyOut(i, 0, key.size(), key.data());
  return key;
}

std::string DictStorage::StringOf(uint32_t i) {
  const HeadChunkShm& h = chunks_[i].head;
  std::string s(h.value_len, '\0');
  CopyOut(i, h.key_len, s.size(), s.data());
  return s;
}

uint32_t DictStorage::FindLocked(std::string_view key, uint32_t hash) {
  // `i < n` ends the chain at kNil and at any index a corruption left (kNil >= n); the
  // step budget ends a cycle. Open() verified the lists; this guards against a process
  // that scribbled on them since, for the price of a compare.
  const uint32_t n = d_->chunk_count;
  uint32_t steps = n;
  for (uint32_t i = buckets_[hash & (d_->bucket_count - 1)]; i < n && steps-- > 0;
       i = chunks_[i].head.bucket_next) {
    if (chunks_[i].head.hash == hash && KeyEquals(i, key)) return i;
  }
  return kNil;
}

uint32_t DictStorage::BuildEntryLocked(std::string_view key, uint32_t hash, ValueType type,
                                       double number, std::string_view str, int64_t expires_ms) {
  uint32_t n = ChunksFor(key.size(), str.size());
  uint32_t first = d_->free_head;
  // Detach n chunks from the free list first, so that a crash below leaves them unreachable
  // (repair frees them) rather than half in use and half free.
  uint32_t last = first;
  for (uint32_t k = 1; k < n; ++k) last = chunks_[last].common.next;
  d_->free_head = chunks_[last].common.next;
  d_->free_count -= n;

  // Fill the stream key+value across the chain.
  size_t total = key.size() + str.size();
  // Copies bytes [off, off + len) of the stream key+value to `to` (memcpy of each part:
  // faster than a byte loop, and GCC 12 at -O3 misreads the byte loop as an overflow).
  auto copy_out = [&](char* to, size_t off, size_t len) {
    if (off < key.size()) {
      size_t part = std::min(len, key.size() - off);
      std::memcpy(to, key.data() + off, part);
      to += part;
      off += part;
      len -= part;
    }
    if (len > 0) std::memcpy(to, str.data() + (off - key.size()), len);
  };
  size_t off = std::min(total, kHeadData);
  uint32_t c = chunks_[first].common.next;
  for (uint32_t k = 1; k < n; ++k) {
    ContChunkShm& cc = chunks_[c].cont;
    size_t m = std::min(total - off, kContData);
    copy_out(cc.data, off, m);
    off += m;
    cc.kind = ChunkKind::kCont;
    if (k + 1 == n) cc.next = kNil;
    c = cc.next;
  }
  HeadChunkShm& h = chunks_[first].head;
  if (n == 1) h.next = kNil;
  size_t m = std::min(total, kHeadData);
  copy_out(h.data, 0, m);
  h.value_type = type;
  h.key_len = static_cast<uint16_t>(key.size());
  h.value_len = static_cast<uint32_t>(str.size());
  h.hash = hash;
  h.bucket_next = kNil;
  h.lru_prev = h.lru_next = kNil;
  h.set_expires_ms(expires_ms);
  h.set_number(number);
  h.kind = ChunkKind::kHead;
  return first;
}

void DictStorage::LinkLocked(uint32_t i) {
  HeadChunkShm& h = chunks_[i].head;
  uint32_t& bucket = buckets_[h.hash & (d_->bucket_count - 1)];
  h.bucket_next = bucket;
  bucket = i;
  h.lru_prev = kNil;
  h.lru_next = d_->lru_head;
  if (d_->lru_head != kNil) chunks_[d_->lru_head].head.lru_prev = i;
  d_->lru_head = i;
  if (d_->lru_tail == kNil) d_->lru_tail = i;
  d_->entries++;
}

void DictStorage::UnlinkBucketLocked(uint32_t i) {
  HeadChunkShm& h = chunks_[i].head;
  uint32_t* link = &buckets_[h.hash & (d_->bucket_count - 1)];
  while (*link < d_->chunk_count && *link != i) link = &chunks_[*link].head.bucket_next;
  if (*link == i) *link = h.bucket_next;
}

void DictStorage::UnlinkLruLocked(uint32_t i) {
  HeadChunkShm& h = chunks_[i].head;
  // `< chunk_count` rather than `!= kNil`: the same cost, and a corrupt link is not followed.
  if (h.lru_prev < d_->chunk_count) {
    chunks_[h.lru_prev].head.lru_next = h.lru_next;
  } else {
    d_->lru_head = h.lru_next;
  }
  if (h.lru_next < d_->chunk_count) {
    chunks_[h.lru_next].head.lru_prev = h.lru_prev;
  } else {
    d_->lru_tail = h.lru_prev;
  }
}

void DictStorage::FreeChunksLocked(uint32_t i) {
  uint32_t c = i;
  uint32_t n = 0;
  uint32_t last = i;
  while (c < d_->chunk_count && n < d_->chunk_count) {
    last = c;
    uint32_t next = chunks_[c].common.next;
    chunks_[c].common.kind = ChunkKind::kFree;
    c = next;
    ++n;
  }
  chunks_[last].common.next = d_->free_head;
  d_->free_head = i;
  d_->free_count += n;
}

void DictStorage::RemoveLocked(uint32_t i) {
  UnlinkBucketLocked(i);
  RunLockedHook();
  UnlinkLruLocked(i);
  d_->entries--;
  FreeChunksLocked(i);
}

void DictStorage::ReplaceLocked(uint32_t old_i, uint32_t new_i) {
  d_->intent.new_head = new_i;
  d_->intent.old_head = old_i;
  RemoveLocked(old_i);
  LinkLocked(new_i);
  d_->intent.new_head = d_->intent.old_head = kNil;
}

void DictStorage::TouchLocked(uint32_t i) {
  if (d_->lru_head == i) return;
  UnlinkLruLocked(i);
  HeadChunkShm& h = chunks_[i].head;
  h.lru_prev = kNil;
  h.lru_next = d_->lru_head;
  if (d_->lru_head < d_->chunk_count) chunks_[d_->lru_head].head.lru_prev = i;
  d_->lru_head = i;
  if (d_->lru_tail == kNil) d_->lru_tail = i;
}

void DictStorage::RewriteLocked(uint32_t i, ValueType type, double number, int64_t expires_ms) {
  DictIntentShm& in = d_->intent;
  in.rewrite_type = type;
  std::memcpy(in.rewrite_fixed, &expires_ms, sizeof(expires_ms));
  std::memcpy(in.rewrite_fixed + 8, &number, sizeof(number));
  in.rewrite_head = i;  // the commit word: from here on repair completes the rewrite
  RunLockedHook();
  FinishRewriteLocked(true);
}

// Applies the recorded rewrite (idempotent) and clears the record. `hook`: run the test
// hook between the two stores (not from repair).
void DictStorage::FinishRewriteLocked(bool hook) {
  DictIntentShm& in = d_->intent;
  uint32_t i = in.rewrite_head;
  if (i < d_->chunk_count && chunks_[i].head.kind == ChunkKind::kHead &&
      chunks_[i].head.value_type != ValueType::kString &&
      (in.rewrite_type == ValueType::kNumber || in.rewrite_type == ValueType::kBoolean)) {
    HeadChunkShm& h = chunks_[i].head;
    h.value_type = in.rewrite_type;
    if (hook) RunLockedHook();
    std::memcpy(h.fixed, in.rewrite_fixed, sizeof(h.fixed));
  }
  in.rewrite_head = kNil;
}

void DictStorage::ExpireAllLocked() {
  d_->intent.flushing = 1;
  const uint32_t n = d_->chunk_count;
  uint32_t steps = n;
  for (uint32_t i = d_->lru_head; i < n && steps-- > 0; i = chunks_[i].head.lru_next) {
    chunks_[i].head.set_expires_ms(-1);
    RunLockedHook();
  }
  d_->intent.flushing = 0;
}

void DictStorage::ExpireTailLocked(int n, int64_t now) {
  while (n-- > 0 && d_->lru_tail < d_->chunk_count) {
    uint32_t t = d_->lru_tail;
    if (!Expired(chunks_[t].head, now)) return;
    RemoveLocked(t);
  }
}

bool DictStorage::EvictTailLocked(int64_t now) {
  uint32_t t = d_->lru_tail;
  if (t >= d_->chunk_count) return false;
  bool live = !Expired(chunks_[t].head, now);
  RemoveLocked(t);
  return live;
}

bool DictStorage::ChainValid(uint32_t i, std::string& claimed) {
  // claimed[c] != 0 marks chunks already owned by an accepted entry.
  const HeadChunkShm& h = chunks_[i].head;
  if (h.kind != ChunkKind::kHead || h.key_len == 0 ||
      (h.value_type != ValueType::kNumber && h.value_type != ValueType::kBoolean &&
       h.value_type != ValueType::kString) ||
      (h.value_type != ValueType::kString && h.value_len != 0)) {
    return false;
  }
  uint32_t need = ChunksFor(h.key_len, h.value_len);
  uint32_t c = h.next;
  for (uint32_t k = 1; k < need; ++k) {
    if (c >= d_->chunk_count || claimed[c] || chunks_[c].common.kind != ChunkKind::kCont) {
      return false;
    }
    c = chunks_[c].common.next;
  }
  if (c != kNil) return false;
  if (HashKey(KeyOf(i)) != h.hash) return false;
  return true;
}

void DictStorage::RepairLocked() {
  const uint32_t n = d_->chunk_count;
  std::string claimed(n, '\0');
  // Resolve an interrupted replacement: keep the new entry only if it is whole.
  uint32_t drop = kNil;
  if (d_->intent.new_head < n && d_->intent.old_head < n) {
    drop = ChainValid(d_->intent.new_head, claimed) ? d_->intent.old_head : d_->intent.new_head;
  }
  d_->intent.new_head = d_->intent.old_head = kNil;
  // An interrupted in-place rewrite is rolled forward (its record is whole: the commit
  // word was stored last).
  FinishRewriteLocked(false);

  // Order: first the part of the old LRU list that still holds together, then any other
  // whole entry (entries built but not yet linked are dropped: their operation is lost,
  // unless it is the resolved replacement above).
  std::vector<uint32_t> order;
  std::string seen(n, '\0');
  for (uint32_t i = d_->lru_head; i < n && !seen[i];) {
    seen[i] = 1;
    if (chunks_[i].head.kind != ChunkKind::kHead) break;
    order.push_back(i);
    i = chunks_[i].head.lru_next;
  }

  for (uint32_t b = 0; b < d_->bucket_count; ++b) buckets_[b] = kNil;
  d_->lru_head = d_->lru_tail = kNil;
  d_->entries = 0;
  auto accept = [&](uint32_t i) {
    if (i == drop || claimed[i] || !ChainValid(i, claimed)) return;
    std::string key = KeyOf(i);
    if (FindLocked(key, chunks_[i].head.hash) != kNil) return;  // duplicate: keep the first
    claimed[i] = 1;
    for (uint32_t c = chunks_[i].head.next; c != kNil; c = chunks_[c].common.next) claimed[c] = 1;
    // Append at the LRU tail to keep the recovered order.
    HeadChunkShm& h = chunks_[i].head;
    uint32_t& bucket = buckets_[h.hash & (d_->bucket_count - 1)];
    h.bucket_next = bucket;
    bucket = i;
    h.lru_next = kNil;
    h.lru_prev = d_->lru_tail;
    if (d_->lru_tail != kNil) {
      chunks_[d_->lru_tail].head.lru_next = i;
    } else {
      d_->lru_head = i;
    }
    d_->lru_tail = i;
    d_->entries++;
  };
  for (uint32_t i : order) accept(i);
  // Whole entries off the list: a replacement's new side, or an entry built but not yet
  // linked. Keeping them completes the interrupted operation instead of losing it.
  for (uint32_t i = 0; i < n; ++i) accept(i);

  // An interrupted flush_all is completed: every entry it would have expired is.
  if (d_->intent.flushing != 0) {
    for (uint32_t i = d_->lru_head; i != kNil; i = chunks_[i].head.lru_next) {
      chunks_[i].head.set_expires_ms(-1);
    }
    d_->intent.flushing = 0;
  }

  d_->free_head = kNil;
  d_->free_count = 0;
  for (uint32_t i = n; i-- > 0;) {
    if (claimed[i]) continue;
    chunks_[i].common.kind = ChunkKind::kFree;
    chunks_[i].common.next = d_->free_head;
    d_->free_head = i;
    d_->free_count++;
  }
  d_->repairs++;
}

Status DictStorage::VerifyLocked() {
  const uint32_t n = d_->chunk_count;
  auto fail = [](const std::string& what) { return Status::Error("dict inconsistent: " + what); };
  std::vector<uint8_t> owner(n, 0);  // 1 head, 2 cont, 3 free

  uint32_t free_seen = 0;
  for (uint32_t c = d_->free_head; c != kNil; c = chunks_[c].common.next) {
    if (c >= n) return fail("free list leaves the chunk array");
    if (owner[c]) return fail("free list has a cycle at chunk " + std::to_string(c));
    if (chunks_[c].common.kind != ChunkKind::kFree) {
      return fail("chunk " + std::to_string(c) + " is on the free list but not free");
    }
    owner[c] = 3;
    ++free_seen;
  }
  if (free_seen != d_->free_count) {
    return fail("free count " + std::to_string(d_->free_count) + " but " +
                std::to_string(free_seen) + " free chunks listed");
  }

  uint32_t in_buckets = 0;
  for (uint32_t b = 0; b < d_->bucket_count; ++b) {
    for (uint32_t i = buckets_[b]; i != kNil; i = chunks_[i].head.bucket_next) {
      if (i >= n) return fail("bucket chain leaves the chunk array");
      if (owner[i]) return fail("chunk " + std::to_string(i) + " is listed twice");
      HeadChunkShm& h = chunks_[i].head;
      if (h.kind != ChunkKind::kHead) {
        return fail("bucket lists non-head chunk " + std::to_string(i));
      }
      if ((h.hash & (d_->bucket_count - 1)) != b) return fail("entry in the wrong bucket");
      if ((h.value_type != ValueType::kNumber && h.value_type != ValueType::kBoolean &&
           h.value_type != ValueType::kString) ||
          (h.value_type != ValueType::kString && h.value_len != 0)) {
        return fail("entry " + std::to_string(i) + " has a bad value type");
      }
      owner[i] = 1;
      uint32_t need = ChunksFor(h.key_len, h.value_len);
      uint32_t c = h.next;
      for (uint32_t k = 1; k < need; ++k) {
        if (c >= n || owner[c] || chunks_[c].common.kind != ChunkKind::kCont) {
          return fail("broken chunk chain of entry " + std::to_string(i));
        }
        owner[c] = 2;
        c = chunks_[c].common.next;
      }
      if (c != kNil) return fail("chunk chain of entry " + std::to_string(i) + " is too long");
      if (h.key_len == 0 || HashKey(KeyOf(i)) != h.hash) {
        return fail("entry " + std::to_string(i) + " has a bad key or hash");
      }
      ++in_buckets;
    }
  }
  if (in_buckets != d_->entries) {
    return fail("entry count " + std::to_string(d_->entries) + " but " +
                std::to_string(in_buckets) + " entries hashed");
  }

  uint32_t lru_seen = 0;
  uint32_t prev = kNil;
  for (uint32_t i = d_->lru_head; i != kNil; i = chunks_[i].head.lru_next) {
    if (i >= n || owner[i] != 1) return fail("LRU list holds a chunk that is not an entry");
    if (chunks_[i].head.lru_prev != prev) {
      return fail("LRU back link broken at " + std::to_string(i));
    }
    if (++lru_seen > in_buckets) return fail("LRU list has a cycle");
    prev = i;
  }
  if (prev != d_->lru_tail) return fail("LRU tail does not end the list");
  if (lru_seen != in_buckets) return fail("LRU list misses entries");

  for (uint32_t c = 0; c < n; ++c) {
    if (!owner[c]) return fail("chunk " + std::to_string(c) + " is leaked");
  }
  if (d_->intent.new_head != kNil || d_->intent.old_head != kNil) {
    return fail("an unfinished replacement is recorded");
  }
  if (d_->intent.rewrite_head != kNil) return fail("an unfinished rewrite is recorded");
  if (d_->intent.flushing != 0) return fail("an unfinished flush_all is recorded");
  return Status::Ok();
}

}  // namespace upcheck::shm

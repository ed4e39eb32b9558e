#include "upcheck/shared_dict.h"

#include <time.h>

#include <cmath>
#include <cstdio>

#include "shm/dict_storage.h"
#include "upcheck/internal/dict_test_hooks.h"

namespace upcheck {

using shm::DictLock;
using shm::DictStorage;
using shm::HeadChunkShm;
using shm::kNil;
using shm::ValueType;

namespace shm {
void SetLockedHook(void (*hook)());
}  // namespace shm

namespace {

// ngx allows at most 30 forced evictions per store.
constexpr int kMaxForcedEvictions = 30;

Status CheckKey(std::string_view key) {
  if (key.empty()) return Status::Error("empty key");
  if (key.size() > SharedDict::kMaxKeyLength) return Status::Error("key too long");
  return Status::Ok();
}

// The current time, read from the clock only if some entry needs it.
class LazyNow {
 public:
  explicit LazyNow(const SharedDict::Clock& clock) : clock_(clock) {}
  int64_t get() {
    if (!have_) {
      now_ = clock_ ? clock_() : MonotonicMs();
      have_ = true;
    }
    return now_;
  }

 private:
  const SharedDict::Clock& clock_;
  int64_t now_ = 0;
  bool have_ = false;
};

bool Expired(const HeadChunkShm& h, LazyNow& now) {
  return h.expires_ms() != 0 && (h.expires_ms() < 0 || h.expires_ms() <= now.get());
}

// A walk along the LRU list that ends at kNil, at an index outside the chunk array, or
// after chunk_count steps (a cycle): Open() verified the list, but a process may have
// scribbled on it since, and a reader must neither leave the segment nor spin.
class LruWalk {
 public:
  LruWalk(const DictStorage& s, uint32_t first) : n_(s.chunk_count()), i_(first), steps_(n_) {}
  bool ok() const { return i_ < n_ && steps_ > 0; }
  uint32_t i() const { return i_; }
  void Next(uint32_t next) {
    i_ = next;
    --steps_;
  }

 private:
  uint32_t n_;
  uint32_t i_;
  uint32_t steps_;
};

// ngx frees up to 2 expired entries at the LRU tail before every store. The clock is read
// only when the tail entry can expire at all. REQUIRES: dict lock held.
void ExpireTail(DictStorage& s, LazyNow& now) {
  uint32_t tail = s.lru_tail();
  if (tail >= s.chunk_count() || s.head(tail).expires_ms() == 0) return;
  s.ExpireTailLocked(2, now.get());
}

DictValue ValueOf(DictStorage& s, uint32_t i) {
  const HeadChunkShm& h = s.head(i);
  switch (h.value_type) {
    case ValueType::kNumber:
      return h.number();
    case ValueType::kBoolean:
      return h.number() != 0;
    case ValueType::kString:
      break;
  }
  return s.StringOf(i);
}

struct Encoded {
  ValueType type;
  double number;
  std::string_view str;
};

Encoded Encode(const DictValue& v) {
  if (const double* d = std::get_if<double>(&v)) return {ValueType::kNumber, *d, {}};
  if (const bool* b = std::get_if<bool>(&v)) return {ValueType::kBoolean, *b ? 1.0 : 0.0, {}};
  return {ValueType::kString, 0, std::get<std::string>(v)};
}

// The body of set/add/incr-init once the key is known not to be a live duplicate (for add)
// and the value fits the dict at all. REQUIRES: dict lock held.
DictStoreResult StoreLocked(DictStorage& s, std::string_view key, uint32_t hash, uint32_t existing,
                            const Encoded& e, int64_t expires_ms, LazyNow& now) {
  DictStoreResult result;
  uint32_t need = DictStorage::ChunksFor(key.size(), e.str.size());
  if (existing != kNil) {
    HeadChunkShm& h = s.head(existing);
    if (e.type != ValueType::kString && h.value_type != ValueType::kString) {
      // Same size, no string: rewrite in place, under the intent record.
      s.RewriteLocked(existing, e.type, e.number, expires_ms);
      s.TouchLocked(existing);
      return result;
    }
    if (s.free_count() >= need) {
      uint32_t fresh = s.BuildEntryLocked(key, hash, e.type, e.number, e.str, expires_ms);
      shm::RunLockedHook();
      s.ReplaceLocked(existing, fresh);
      return result;
    }
    s.RemoveLocked(existing);
  }
  for (int attempt = 0; s.free_count() < need; ++attempt) {
    if (attempt == kMaxForcedEvictions) {
      result.status = Status::Error("no memory");
      return result;
    }
    if (s.EvictTailLocked(now.get())) result.forcible = true;
    s.ExpireTailLocked(2, now.get());
  }
  uint32_t fresh = s.BuildEntryLocked(key, hash, e.type, e.number, e.str, expires_ms);
  shm::RunLockedHook();
  s.LinkLocked(fresh);
  return result;
}

DictStoreResult Refuse(std::string message) {
  DictStoreResult r;
  r.status = Status::Error(std::move(message));
  return r;
}

}  // namespace

std::string FormatDictValue(const DictValue& value) {
  if (const bool* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const std::string* s = std::get_if<std::string>(&value)) return *s;
  double d = std::get<double>(value);
  if (std::isnan(d)) return std::signbit(d) ? "-nan" : "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.14g", d);
  return buf;
}

int64_t MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

SharedDict::SharedDict(shm::DictShm* storage, Clock clock)
    : storage_(storage), clock_(std::move(clock)) {}

void SetDictLockedHookForTesting(void (*hook)()) { shm::SetLockedHook(hook); }

int64_t SharedDict::Now() const { return clock_ ? clock_() : MonotonicMs(); }

Result<std::optional<DictValue>> SharedDict::Get(std::string_view key) {
  if (Status st = CheckKey(key); !st) return st;
  uint32_t hash = shm::HashKey(key);
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  uint32_t i = s.FindLocked(key, hash);
  if (i == kNil || Expired(s.head(i), now)) return std::optional<DictValue>();
  s.TouchLocked(i);
  return std::optional<DictValue>(ValueOf(s, i));
}

DictStoreResult SharedDict::Set(std::string_view key, const std::optional<DictValue>& value,
                                int64_t ttl_ms) {
  if (value.has_value()) return Set(key, *value, ttl_ms);
  DictStoreResult r;
  r.status = Delete(key);
  return r;
}

DictStoreResult SharedDict::Set(std::string_view key, const DictValue& value, int64_t ttl_ms) {
  return Store(key, value, ttl_ms, /*only_if_absent=*/false);
}

DictStoreResult SharedDict::Add(std::string_view key, const DictValue& value, int64_t ttl_ms) {
  return Store(key, value, ttl_ms, /*only_if_absent=*/true);
}

DictStoreResult SharedDict::Store(std::string_view key, const DictValue& value, int64_t ttl_ms,
                                  bool only_if_absent) {
  if (Status st = CheckKey(key); !st) return Refuse(st.message());
  Encoded e = Encode(value);
  if (e.type == ValueType::kNumber && std::isnan(e.number)) return Refuse("value is NaN");
  if (ttl_ms < 0) return Refuse("bad ttl: must be >= 0");
  uint32_t need = DictStorage::ChunksFor(key.size(), e.str.size());
  uint32_t hash = shm::HashKey(key);
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  if (need > s.chunk_count()) return Refuse("no memory");
  if (only_if_absent) {
    // A live entry: "exists", with nothing else to do (the lock's hot path).
    uint32_t live = s.FindLocked(key, hash);
    if (live != kNil && !Expired(s.head(live), now)) return Refuse("exists");
  }
  ExpireTail(s, now);
  uint32_t existing = s.FindLocked(key, hash);  // after the tail expiry, which may free it
  int64_t expires = ttl_ms > 0 ? now.get() + ttl_ms : 0;
  return StoreLocked(s, key, hash, existing, e, expires, now);
}

Result<double> SharedDict::Incr(std::string_view key, double delta, std::optional<double> init,
                                int64_t init_ttl_ms) {
  if (Status st = CheckKey(key); !st) return st;
  if (std::isnan(delta) || (init && std::isnan(*init))) {
    return Result<double>::Error("value is NaN");
  }
  if (init_ttl_ms < 0) return Result<double>::Error("bad ttl: must be >= 0");
  uint32_t hash = shm::HashKey(key);
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  ExpireTail(s, now);
  uint32_t i = s.FindLocked(key, hash);
  if (i == kNil || Expired(s.head(i), now)) {
    if (!init) return Result<double>::Error("not found");
    double v = *init + delta;
    int64_t expires = init_ttl_ms > 0 ? now.get() + init_ttl_ms : 0;
    DictStoreResult r =
        StoreLocked(s, key, hash, i, Encoded{ValueType::kNumber, v, {}}, expires, now);
    if (!r.ok()) return r.status;
    return v;
  }
  HeadChunkShm& h = s.head(i);
  if (h.value_type != ValueType::kNumber) return Result<double>::Error("not a number");
  double v = h.number() + delta;
  s.RewriteLocked(i, ValueType::kNumber, v, h.expires_ms());
  s.TouchLocked(i);
  return v;
}

Status SharedDict::Delete(std::string_view key) {
  if (Status st = CheckKey(key); !st) return st;
  uint32_t hash = shm::HashKey(key);
  DictLock lock(storage_);
  DictStorage s(storage_);
  uint32_t i = s.FindLocked(key, hash);
  if (i != kNil) s.RemoveLocked(i);
  return Status::Ok();
}

Result<int64_t> SharedDict::Ttl(std::string_view key) {
  if (Status st = CheckKey(key); !st) return st;
  uint32_t hash = shm::HashKey(key);
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  uint32_t i = s.FindLocked(key, hash);
  if (i == kNil || Expired(s.head(i), now)) return Result<int64_t>::Error("not found");
  int64_t e = s.head(i).expires_ms();
  return e == 0 ? int64_t{0} : e - now.get();
}

void SharedDict::FlushAll() {
  DictLock lock(storage_);
  DictStorage s(storage_);
  s.ExpireAllLocked();
}

size_t SharedDict::FlushExpired(size_t max) {
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  size_t freed = 0;
  for (LruWalk w(s, storage_->lru_tail); w.ok();) {
    uint32_t i = w.i();
    uint32_t prev = s.head(i).lru_prev;
    if (Expired(s.head(i), now)) {
      s.RemoveLocked(i);
      if (++freed == max) break;
    }
    w.Next(prev);
  }
  return freed;
}

std::vector<std::string> SharedDict::GetKeys(size_t max) {
  std::vector<std::string> keys;
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  for (LruWalk w(s, storage_->lru_head); w.ok(); w.Next(s.head(w.i()).lru_next)) {
    uint32_t i = w.i();
    if (Expired(s.head(i), now)) continue;
    keys.push_back(s.KeyOf(i));
    if (keys.size() == max) break;
  }
  return keys;
}

std::vector<DictEntry> SharedDict::Snapshot(std::string_view prefix, size_t max) {
  std::vector<DictEntry> out;
  LazyNow now(clock_);
  DictLock lock(storage_);
  DictStorage s(storage_);
  for (LruWalk w(s, storage_->lru_head); w.ok(); w.Next(s.head(w.i()).lru_next)) {
    uint32_t i = w.i();
    const HeadChunkShm& h = s.head(i);
    if (Expired(h, now)) continue;
    std::string key = s.KeyOf(i);
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    int64_t ttl = h.expires_ms() == 0 ? 0 : h.expires_ms() - now.get();
    out.push_back(DictEntry{std::move(key), ValueOf(s, i), ttl});
    if (out.size() == max) break;
  }
  return out;
}

size_t SharedDict::FreeSpace() {
  DictLock lock(storage_);
  return size_t{storage_->free_count} * shm::kChunkSize;
}

DictStats SharedDict::Stats() {
  DictLock lock(storage_);
  DictStats st;
  st.chunk_size = shm::kChunkSize;
  st.chunks = storage_->chunk_count;
  st.capacity_bytes = size_t{storage_->chunk_count} * shm::kChunkSize;
  st.free_bytes = size_t{storage_->free_count} * shm::kChunkSize;
  st.entries = storage_->entries;
  return st;
}

Status SharedDict::Verify() {
  DictLock lock(storage_);
  return DictStorage(storage_).VerifyLocked();
}

size_t CopyEntries(SharedDict& from, SharedDict& to,
                   const std::function<std::optional<std::string>(const std::string&)>& new_key) {
  std::vector<DictEntry> entries = from.Snapshot();  // most recently used first
  size_t copied = 0;
  for (auto e = entries.rbegin(); e != entries.rend(); ++e) {
    std::optional<std::string> key = new_key ? new_key(e->key) : e->key;
    if (key && to.Set(*key, e->value, e->ttl_ms).ok()) ++copied;
  }
  return copied;
}

}  // namespace upcheck

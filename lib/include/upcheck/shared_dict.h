// SharedDict: a key/value store in the shared segment with ngx.shared.DICT semantics.
//
// A SharedDict object is a per-process handle over storage that lives in the segment
// (see Segment::dict()). It is safe to use from any process attached to the segment;
// every operation is atomic across processes, and none spans two calls. The lock that
// makes it so survives the death of its holder: a process killed inside an operation
// loses at most that operation, and the next caller repairs the storage before going on.
// One handle must not be used from two threads at once.
//
// Values are numbers (double), booleans or strings. TTLs are in milliseconds on
// CLOCK_MONOTONIC, which every process on the machine shares; 0 means "never expires".
// Expired entries are invisible at once and reclaimed lazily. When the store is full,
// set/add/incr-with-init evict least-recently-used entries and say so ("forcible").
#ifndef UPCHECK_SHARED_DICT_H_
#define UPCHECK_SHARED_DICT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "upcheck/shared_dict.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "upcheck/status.h"

namespace upcheck {

namespace shm {
struct DictShm;
}  // namespace shm

using DictValue = std::variant<double, bool, std::string>;

// Lua's tostring(): numbers as %.14g ("2", "0.5", "1e+20"), booleans as true/false.
std::string FormatDictValue(const DictValue& value);

// Milliseconds since an unspecified start, from CLOCK_MONOTONIC.
int64_t MonotonicMs();

// The outcome of set/add: ok, or an error such as "exists" or "no memory". forcible is
// true when live entries were evicted to make room, whatever the outcome.
struct DictStoreResult {
  Status status;
  bool forcible = false;
  bool ok() const { return status.ok(); }
};

struct DictEntry {
  std::string key;
  DictValue value;
  int64_t ttl_ms = 0;  // remaining; 0 = never expires
};

struct DictStats {
  size_t capacity_bytes = 0;  // bytes of entry storage
  size_t free_bytes = 0;      // bytes not used by any entry (expired ones count as used)
  size_t entries = 0;         // stored entries, expired ones included until reclaimed
  size_t chunk_size = 0;
  size_t chunks = 0;
};

class SharedDict {
 public:
  static constexpr size_t kMaxKeyLength = 65535;
  using Clock = std::function<int64_t()>;

  // Attaches to storage that shm::FormatDict() set up. Segment does this for you.
  explicit SharedDict(shm::DictShm* storage, Clock clock = nullptr);
  SharedDict(const SharedDict&) = delete;
  SharedDict& operator=(const SharedDict&) = delete;

  // The value, or nullopt when the key is missing or expired. Errors only for a bad key
  // ("empty key", "key too long"). Moves the entry to the LRU head.
  Result<std::optional<DictValue>> Get(std::string_view key);

  // Stores value (nullopt deletes the key and succeeds even if it was absent). Overwrites
  // any value and TTL. ttl_ms = 0: never expires. Errors: bad key, "value is NaN",
  // "no memory" (the value cannot fit, even after evicting up to 30 entries).
  DictStoreResult Set(std::string_view key, const std::optional<DictValue>& value,
                      int64_t ttl_ms = 0);
  DictStoreResult Set(std::string_view key, const DictValue& value, int64_t ttl_ms = 0);

  // Like Set, but fails with "exists" when a live entry has the key. An expired one is
  // replaced.
  DictStoreResult Add(std::string_view key, const DictValue& value, int64_t ttl_ms = 0);

  // Adds delta to a number and returns the result, keeping the entry's TTL. A missing or
  // expired key fails with "not found" unless init is given: then the key is created as
  // init + delta with init_ttl_ms. A non-number fails with "not a number".
  Result<double> Incr(std::string_view key, double delta, std::optional<double> init = std::nullopt,
                      int64_t init_ttl_ms = 0);

  // Removes the key; succeeds when it was absent. Errors only for a bad key.
  Status Delete(std::string_view key);

  // Remaining TTL in ms, 0 for an entry that never expires. Error "not found".
  Result<int64_t> Ttl(std::string_view key);

  // Makes every entry expired (invisible at once).
  void FlushAll();
  // Frees up to max expired entries (0: all) and returns how many were freed.
  size_t FlushExpired(size_t max = 0);
  // Live keys, LRU-most-recent first, at most max (0: all). Does not touch the LRU order.
  std::vector<std::string> GetKeys(size_t max = 1024);
  // Live entries whose key starts with prefix, at most max (0: all).
  std::vector<DictEntry> Snapshot(std::string_view prefix = {}, size_t max = 0);
  size_t FreeSpace();
  DictStats Stats();

  // Full consistency check of the storage: hash chains, LRU list, free list, chunk
  // chains and counts. OK, or the first violation found.
  Status Verify();

 private:
  int64_t Now() const;
  // set (only_if_absent = false) and add (true).
  DictStoreResult Store(std::string_view key, const DictValue& value, int64_t ttl_ms,
                        bool only_if_absent);
  shm::DictShm* storage_;
  Clock clock_;
};

// Copies the live entries of `from` into `to` with their remaining TTLs, least recently used
// first, so that `to` keeps `from`'s LRU order (if `to` is smaller, the oldest are evicted).
// `new_key`, when given, names each entry's key in `to`, or skips it (nullopt). Returns how
// many entries were stored. Meant for a reload that carries one segment's dict into the next.
size_t CopyEntries(
    SharedDict& from, SharedDict& to,
    const std::function<std::optional<std::string>(const std::string&)>& new_key = nullptr);

}  // namespace upcheck

#endif  // UPCHECK_SHARED_DICT_H_

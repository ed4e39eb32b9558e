// Fuzz target: a segment as the tools read it (upcheck-shmctl, upcheck-status). The bytes
// become a fresh POSIX shm object `upcheck.fuzz-<pid>`; then Segment::Open, and if it
// opens, Registry::Attach and every reading path of the registry and the dict. A corrupt
// segment must be refused by Open/Attach/Verify; nothing may read out of bounds or hang.
//
// Input, first byte the mode:
//   0: the rest is the whole object, padded with zeros to at least 96 KiB;
//   1: the rest is patches over a real 96 KiB segment built at start-up (a registry with
//      two upstreams and four peers, a worker slot, details, dict entries of every kind):
//      records of [offset: u24 little-endian][length: u8][length bytes].
// The dict's robust mutex is re-initialised in every input: a lock word is the one thing
// a reader cannot check, and a garbage one would only make the reader wait.
//
// UPCHECK_FUZZ_SEGMENT_SEEDS=DIR writes both kinds of seed (the real image) to DIR and
// exits.
#include <fcntl.h>
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shm/dict_layout.h"
#include "shm/segment_header.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/segment.h"
#include "upcheck/shared_dict.h"

namespace {

using upcheck::Result;
using upcheck::Segment;

constexpr size_t kImageBytes = 96 * 1024;  // raw inputs are padded to this
// The base image's dict capacity: 1289 chunks lay the dict and the registry out where the
// hand-made corpus/segment/regress-* patches expect them (dict at 0x10c0, registry at
// 0x16400), as they were when the segment's size was the whole object's.
constexpr size_t kImageDictBytes = 1289 * 64;

// The shm object of the input being run: removed before a failure aborts the process.
std::string g_object;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "segment_fuzz: %s\n", what.c_str());
  if (!g_object.empty()) shm_unlink(g_object.c_str());
  std::abort();
}

std::vector<char> ReadObject(const std::string& name) {
  std::string path = "/" + upcheck::SegmentObjectName(name);
  int fd = shm_open(path.c_str(), O_RDONLY, 0);
  if (fd < 0) Die("cannot open " + path);
  struct stat st;
  if (fstat(fd, &st) != 0) Die("cannot stat " + path);
  std::vector<char> bytes(static_cast<size_t>(st.st_size));
  if (pread(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    Die("cannot read " + path);
  }
  close(fd);
  return bytes;
}

// A small but complete segment, as a daemon leaves it.
std::vector<char> BuildImage() {
  std::string name = "fuzz-base-" + std::to_string(getpid());
  std::vector<upcheck::RegistryUpstreamSpec> specs(2);
  specs[0].name = "foo.com";
  specs[0].primary = {{"127.0.0.1:80", false}, {"[::1]:81", true}};
  specs[0].backup = {{"unix:/run/app.sock", false}};
  specs[0].check.emplace();
  specs[0].check->type = "http";
  specs[0].check->http_req = "GET / HTTP/1.0\r\n\r\n";
  specs[0].check->valid_statuses = std::vector<double>{200, 302};
  specs[1].name = "bar";
  specs[1].primary = {{"10.0.0.1:8080", false}};
  Segment::CreateOptions options;
  options.name = name;
  options.size = kImageDictBytes;
  options.replace = true;
  auto segment = upcheck::SegmentSetUp::Create(options, upcheck::Registry::BytesNeeded(specs, 2));
  if (!segment.ok()) Die(segment.error());
  auto registry = upcheck::Registry::Create(**segment, specs, 2);
  if (!registry.ok()) Die(registry.error());
  auto slot = registry->ClaimWorkerSlot(4242);
  if (!slot.ok()) Die(slot.error());
  registry->SetWorkerState(*slot, upcheck::WorkerState::kRunning);
  registry->RecordCycle(*slot, upcheck::CycleEvent{"foo.com", true, true, 3});
  upcheck::PeerCheckEvent fail;
  fail.upstream = "foo.com";
  fail.id = 0;
  fail.peer = "127.0.0.1:80";
  fail.kind = upcheck::ProbeKind::kConnect;
  fail.detail = "connection refused";
  fail.unix_ms = 1700000000000;
  fail.transition = upcheck::HealthTransition::kTurnedDown;
  registry->RecordCheck(fail);
  upcheck::SharedDict& dict = (*segment)->dict();
  dict.Set("v:foo.com", upcheck::DictValue(3.0));
  dict.Set("d:foo.com:p0", upcheck::DictValue(true));
  dict.Set("ok:foo.com:p1", upcheck::DictValue(2.0), 60000);
  dict.Set("a key that is long enough to need a continuation chunk",
           upcheck::DictValue(std::string(150, 'x')));
  dict.Set("s", upcheck::DictValue(std::string("short")));
  dict.Set("expired", upcheck::DictValue(1.0), 1);
  (*segment)->Publish();
  std::vector<char> image = ReadObject(name);
  (void)Segment::Remove(name);
  return image;
}

const std::vector<char>& BaseImage() {
  static const std::vector<char> image = BuildImage();
  return image;
}

// Re-initialises the dict's mutex when the header points at a place for it.
void ResetDictMutex(std::vector<char>& image) {
  if (image.size() < sizeof(upcheck::shm::SegmentHeaderShm)) return;
  upcheck::shm::SegmentAreaShm dict_area;
  std::memcpy(&dict_area, image.data() + offsetof(upcheck::shm::SegmentHeaderShm, areas),
              sizeof(dict_area));
  const size_t at = offsetof(upcheck::shm::DictShm, mutex);
  if (dict_area.offset % 64 != 0 || dict_area.offset > image.size() ||
      image.size() - dict_area.offset < at + sizeof(pthread_mutex_t)) {
    return;
  }
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t mutex;
  pthread_mutex_init(&mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  std::memcpy(image.data() + dict_area.offset + at, &mutex, sizeof(mutex));
}

std::vector<char> Decode(const uint8_t* data, size_t size) {
  std::vector<char> image;
  if (size == 0) return image;
  if (data[0] == 1) {
    image = BaseImage();
    for (size_t p = 1; p + 4 <= size;) {
      size_t offset = data[p] | (size_t{data[p + 1]} << 8) | (size_t{data[p + 2]} << 16);
      size_t len = std::min<size_t>(data[p + 3], size - p - 4);
      p += 4;
      for (size_t k = 0; k < len && offset + k < image.size(); ++k) {
        image[offset + k] = static_cast<char>(data[p + k]);
      }
      p += len;
    }
  } else {
    image.assign(reinterpret_cast<const char*>(data) + 1,
                 reinterpret_cast<const char*>(data) + size);
    if (image.size() < kImageBytes) image.resize(kImageBytes, '\0');
  }
  ResetDictMutex(image);
  return image;
}

void ReadEverything(Segment& segment) {
  upcheck::SharedDict& dict = segment.dict();
  (void)dict.Stats();
  (void)dict.FreeSpace();
  if (upcheck::Status st = dict.Verify(); !st.ok()) Die("Open accepted a dict that fails Verify");
  std::vector<std::string> keys = dict.GetKeys(0);
  for (const upcheck::DictEntry& e : dict.Snapshot()) (void)upcheck::FormatDictValue(e.value);
  (void)dict.Snapshot("d:", 2);
  keys.insert(keys.end(), {"v:foo.com", "s", "expired", "missing"});
  for (const std::string& k : keys) {
    (void)dict.Get(k);
    (void)dict.Ttl(k);
  }
  if (upcheck::Status st = dict.Verify(); !st.ok()) Die("reading broke the dict: " + st.message());

  Result<upcheck::Registry> registry = upcheck::Registry::Attach(segment);
  if (!registry.ok()) return;
  for (size_t u = 0; u < registry->upstream_count(); ++u) {
    (void)registry->upstream_name(u);
    (void)registry->check_json(u);
    (void)registry->published_version(u);
    (void)registry->FindUpstream(registry->upstream_name(u));
    for (size_t k = 0; k < registry->peer_count(u); ++k) {
      upcheck::Registry::Peer p = registry->peer(u, k);
      (void)registry->details(u, p.backup, p.id);
    }
    (void)registry->details(u, true, 1000);
  }
  (void)registry->Workers();
  Result<upcheck::Upstreams> view = registry->BuildUpstreams();
  if (view.ok()) {
    (void)upcheck::StatusJson(*view, &*registry, &dict, 0);
    (void)upcheck::UpcheckMetrics(*view, &*registry);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A sanitizer report ends the process too: leave no object behind.
  __sanitizer_set_death_callback([] {
    if (!g_object.empty()) shm_unlink(g_object.c_str());
  });
  const std::vector<char>& image = BaseImage();
  if (const char* dir = std::getenv("UPCHECK_FUZZ_SEGMENT_SEEDS")) {
    std::ofstream raw(std::string(dir) + "/real-image", std::ios::binary);
    raw.put('\0').write(image.data(), static_cast<std::streamsize>(image.size()));
    std::ofstream patch(std::string(dir) + "/real-image-patched", std::ios::binary);
    patch.put('\1');
    raw.close();
    patch.close();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string name = "fuzz-" + std::to_string(getpid());
  std::vector<char> image = Decode(data, size);
  if (image.empty()) return 0;
  std::string path = "/" + upcheck::SegmentObjectName(name);
  g_object = path;
  shm_unlink(path.c_str());
  int fd = shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) Die("cannot create " + path);
  if (pwrite(fd, image.data(), image.size(), 0) != static_cast<ssize_t>(image.size())) {
    Die("cannot write " + path);
  }
  close(fd);
  {
    Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
    if (segment.ok()) {
      ReadEverything(**segment);
    } else if (segment.error().empty()) {
      Die("refused without a message");
    }
  }
  shm_unlink(path.c_str());
  return 0;
}

#include "upcheck/segment.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <new>
#include <system_error>

#include "shm/dict_layout.h"
#include "shm/segment_header.h"
#include "upcheck/internal/segment_setup.h"
#include "upcheck/size.h"

namespace upcheck {

namespace bip = boost::interprocess;
using shm::SegmentAreaShm;
using shm::SegmentHeaderShm;

struct Segment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
  // Creator only, during set-up: Boost's heap over the bytes after the header page.
  std::unique_ptr<bip::managed_external_buffer> heap;

  SegmentHeaderShm* header() { return static_cast<SegmentHeaderShm*>(region.get_address()); }
  char* base() { return static_cast<char*>(region.get_address()); }
};

namespace {

constexpr size_t kPageBytes = 4096;
// Boost's heap header, and per allocation (the dict and each area) a block header and up
// to 64 bytes of alignment.
constexpr size_t kHeapSlack = 4096 + (kMaxSegmentAreas + 1) * 256;
// Far beyond any registry, and small enough that SegmentBytes() cannot wrap.
constexpr size_t kMaxReservedBytes = size_t{1} << 40;

constexpr size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

std::string Quoted(std::string_view name) { return "segment '" + std::string(name) + "'"; }

std::string OwnedByAnother(std::string_view name, uid_t owner) {
  return Quoted(name) + " is owned by another user (uid " + std::to_string(owner) +
         "); run as that user or as root";
}

Status ValidateAreas(SegmentHeaderShm* h, size_t size, std::string_view name) {
  for (const SegmentAreaShm& a : h->areas) {
    if (a.id == 0) continue;
    if (a.offset < shm::kSegmentHeaderBytes || a.offset > size || a.bytes > size - a.offset ||
        a.offset % 64 != 0) {
      return Status::Error(Quoted(name) + " is corrupt: an area lies outside the segment");
    }
  }
  if (h->areas[0].id != shm::kDictAreaId) {
    return Status::Error(Quoted(name) + " is corrupt: it has no dict");
  }
  return Status::Ok();
}

}  // namespace

std::string SegmentObjectName(std::string_view name) { return "upcheck." + std::string(name); }

Status Segment::ValidateName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::Error("segment name must be 1 to 64 bytes, got " + std::to_string(name.size()));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return Status::Error("segment name '" + std::string(name) +
                           "' may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return Status::Ok();
}

Segment::Segment(std::string name, std::unique_ptr<Mapping> mapping)
    : name_(std::move(name)), mapping_(std::move(mapping)) {
  SegmentHeaderShm* h = mapping_->header();
  auto* dict = reinterpret_cast<shm::DictShm*>(mapping_->base() + h->areas[0].offset);
  dict_ = std::make_unique<SharedDict>(dict);
}

Segment::~Segment() = default;

size_t Segment::SegmentBytes(const CreateOptions& options) { return SegmentBytes(options, 0); }

size_t Segment::SegmentBytes(const CreateOptions& options, size_t reserved_bytes) {
  const size_t dict_bytes = shm::DictAreaBytes(options.size / shm::kChunkSize);
  return AlignUp(shm::kSegmentHeaderBytes + dict_bytes + AlignUp(reserved_bytes, 64) + kHeapSlack,
                 kPageBytes);
}

Result<std::unique_ptr<Segment>> Segment::Create(const CreateOptions& options) {
  return Create(options, 0);
}

Result<std::unique_ptr<Segment>> Segment::Create(const CreateOptions& options,
                                                 size_t reserved_bytes) {
  using R = Result<std::unique_ptr<Segment>>;
  if (Status st = ValidateName(options.name); !st) return st;
  if (options.size < kMinSize) {
    return R::Error("dict size " + std::to_string(options.size) + " is below the minimum of " +
                    std::to_string(kMinSize) + " bytes (" + FormatSize(kMinSize) + ")");
  }
  if (options.size > kMaxSize) {
    return R::Error("dict size " + std::to_string(options.size) + " is above the maximum of " +
                    std::to_string(kMaxSize) + " bytes (" + FormatSize(kMaxSize) + ")");
  }
  if (reserved_bytes > kMaxReservedBytes) {
    return R::Error("cannot reserve " + std::to_string(reserved_bytes) + " bytes in a segment");
  }
  const size_t total = SegmentBytes(options, reserved_bytes);
  std::string object = SegmentObjectName(options.name);
  if (options.replace) bip::shared_memory_object::remove(object.c_str());
  auto m = std::make_unique<Mapping>();
  try {
    bip::permissions perms(0600);
    m->object = bip::shared_memory_object(bip::create_only, object.c_str(), bip::read_write, perms);
    m->object.truncate(static_cast<bip::offset_t>(total));
    m->region = bip::mapped_region(m->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::already_exists_error) {
      return R::Error(Quoted(options.name) +
                      " already exists (another upcheckd running? remove "
                      "it with: upcheck-shmctl -s " +
                      options.name + " remove)");
    }
    bip::shared_memory_object::remove(object.c_str());
    return R::Error("cannot create " + Quoted(options.name) + ": " + e.what());
  }

  auto* h = new (m->base()) SegmentHeaderShm{};
  h->magic = shm::kSegmentMagic;
  h->layout_version = kLayoutVersion;
  h->header_bytes = sizeof(SegmentHeaderShm);
  h->segment_bytes = total;
  h->creator_pid.store(getpid());
  h->generation.store(1);
  h->created_ms = MonotonicMs();
  h->dict_size = options.size;

  // Boost's heap serves the set-up allocations (dict, then the areas); nothing allocates
  // through it after Publish(). SegmentBytes() left room for both and for its overhead.
  m->heap = std::make_unique<bip::managed_external_buffer>(
      bip::create_only, m->base() + shm::kSegmentHeaderBytes, total - shm::kSegmentHeaderBytes);
  const size_t dict_bytes = shm::DictAreaBytes(options.size / shm::kChunkSize);
  void* dict_mem = m->heap->allocate_aligned(dict_bytes, 64, std::nothrow);
  if (dict_mem == nullptr) {
    bip::shared_memory_object::remove(object.c_str());
    return R::Error("cannot place the dict in " + Quoted(options.name));
  }
  std::memset(dict_mem, 0, dict_bytes);
  auto dict = shm::FormatDict(dict_mem, dict_bytes);
  if (!dict.ok()) {
    bip::shared_memory_object::remove(object.c_str());
    return dict.status();
  }
  h->areas[0] =
      SegmentAreaShm{shm::kDictAreaId, 0,
                     static_cast<uint64_t>(static_cast<char*>(dict_mem) - m->base()), dict_bytes};
  return std::unique_ptr<Segment>(new Segment(options.name, std::move(m)));
}

Result<std::unique_ptr<Segment>> SegmentSetUp::Create(const Segment::CreateOptions& options,
                                                      size_t reserved_bytes) {
  return Segment::Create(options, reserved_bytes);
}

size_t SegmentSetUp::SegmentBytes(const Segment::CreateOptions& options, size_t reserved_bytes) {
  return Segment::SegmentBytes(options, reserved_bytes);
}

Result<void*> SegmentSetUp::AllocateArea(Segment& segment, SegmentArea area, size_t bytes) {
  Segment::Mapping& mapping = *segment.mapping_;
  if (!mapping.heap) return Result<void*>::Error("areas can be allocated only during set-up");
  SegmentHeaderShm* h = mapping.header();
  SegmentAreaShm* slot = nullptr;
  for (uint32_t k = 1; k <= kMaxSegmentAreas; ++k) {
    if (h->areas[k].id == static_cast<uint32_t>(area)) {
      return Result<void*>::Error("area allocated twice");
    }
    if (slot == nullptr && h->areas[k].id == 0) slot = &h->areas[k];
  }
  if (slot == nullptr) return Result<void*>::Error("no free area slot");
  void* p = mapping.heap->allocate_aligned(bytes, 64, std::nothrow);
  if (p == nullptr) {
    return Result<void*>::Error(Quoted(segment.name_) + " has no room for " +
                                std::to_string(bytes) +
                                " more bytes: reserve them when creating it");
  }
  std::memset(p, 0, bytes);
  *slot = SegmentAreaShm{static_cast<uint32_t>(area), 0,
                         static_cast<uint64_t>(static_cast<char*>(p) - mapping.base()), bytes};
  return p;
}

void Segment::Publish() {
  mapping_->heap.reset();
  mapping_->header()->ready.store(1, std::memory_order_release);
}

uint32_t SegmentSetUp::BumpGeneration(Segment& segment, int32_t new_creator_pid) {
  SegmentHeaderShm* h = segment.mapping_->header();
  h->creator_pid.store(new_creator_pid);
  return h->generation.fetch_add(1) + 1;
}

void* SegmentSetUp::Area(const Segment& segment, SegmentArea area, size_t* bytes) {
  Segment::Mapping& mapping = *segment.mapping_;
  SegmentHeaderShm* h = mapping.header();
  for (uint32_t k = 1; k <= kMaxSegmentAreas; ++k) {
    if (h->areas[k].id == static_cast<uint32_t>(area)) {
      if (bytes != nullptr) *bytes = h->areas[k].bytes;
      return mapping.base() + h->areas[k].offset;
    }
  }
  if (bytes != nullptr) *bytes = 0;
  return nullptr;
}

SegmentInfo Segment::info() const {
  SegmentHeaderShm* h = mapping_->header();
  SegmentInfo i;
  i.name = name_;
  i.size = mapping_->region.get_size();
  i.dict_size = h->dict_size;
  i.layout_version = h->layout_version;
  i.creator_pid = h->creator_pid.load();
  i.generation = h->generation.load();
  i.created_ms = h->created_ms;
  return i;
}

Result<std::unique_ptr<Segment>> Segment::Open(std::string_view name) {
  using R = Result<std::unique_ptr<Segment>>;
  if (Status st = ValidateName(name); !st) return st;
  std::string object = SegmentObjectName(name);
  auto m = std::make_unique<Mapping>();
  try {
    m->object = bip::shared_memory_object(bip::open_only, object.c_str(), bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error) return R::Error(Quoted(name) + " not found");
    if (e.get_error_code() == bip::security_error) {
      // Segments are created 0600, so another user's segment fails here, before the owner
      // check below: name the owner all the same (Linux keeps POSIX shm in /dev/shm).
      struct stat st;
      if (stat(("/dev/shm/" + object).c_str(), &st) == 0 && st.st_uid != geteuid()) {
        return R::Error(OwnedByAnother(name, st.st_uid) + " (permission denied)");
      }
      return R::Error("permission denied opening " + Quoted(name));
    }
    return R::Error("cannot open " + Quoted(name) + ": " + e.what());
  }
  struct stat st;
  if (fstat(m->object.get_mapping_handle().handle, &st) != 0) {
    return R::Error("cannot stat " + Quoted(name) + ": " + std::generic_category().message(errno));
  }
  if (st.st_uid != geteuid() && geteuid() != 0) return R::Error(OwnedByAnother(name, st.st_uid));
  if (static_cast<size_t>(st.st_size) < shm::kSegmentHeaderBytes + kMinSize) {
    return R::Error(Quoted(name) + " is not an upcheck segment (only " +
                    std::to_string(st.st_size) + " bytes)");
  }
  try {
    m->region = bip::mapped_region(m->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    return R::Error("cannot map " + Quoted(name) + ": " + e.what());
  }
  SegmentHeaderShm* h = m->header();
  size_t size = m->region.get_size();
  if (h->magic != shm::kSegmentMagic) {
    return R::Error(Quoted(name) + " is not an upcheck segment (bad magic)");
  }
  if (h->layout_version != kLayoutVersion) {
    return R::Error(Quoted(name) + " has layout version " + std::to_string(h->layout_version) +
                    "; this build reads " + std::to_string(kLayoutVersion));
  }
  if (h->ready.load(std::memory_order_acquire) != 1) {
    return R::Error(Quoted(name) + " is not ready: its creator is setting it up or died doing so");
  }
  if (h->segment_bytes != size) {
    return R::Error(Quoted(name) + " is corrupt: header says " + std::to_string(h->segment_bytes) +
                    " bytes, object has " + std::to_string(size));
  }
  if (Status s = ValidateAreas(h, size, name); !s) return s;
  auto* dict = reinterpret_cast<shm::DictShm*>(m->base() + h->areas[0].offset);
  if (Status s = shm::ValidateDictHeader(dict, h->areas[0].bytes); !s) {
    return R::Error(Quoted(name) + " is corrupt: " + s.message());
  }
  // The whole dict, under its lock: from here on its readers follow chunk indices, so a
  // segment whose lists are broken is refused now rather than read out of bounds later.
  // O(chunks), once per Open.
  std::unique_ptr<Segment> segment(new Segment(std::string(name), std::move(m)));
  if (Status s = segment->dict().Verify(); !s) {
    return R::Error(Quoted(name) + " is corrupt: " + s.message());
  }
  return segment;
}

Status Segment::Remove(std::string_view name) {
  if (Status st = ValidateName(name); !st) return st;
  std::string object = SegmentObjectName(name);
  if (!bip::shared_memory_object::remove(object.c_str())) {
    return Status::Error(Quoted(name) + " not found");
  }
  return Status::Ok();
}

}  // namespace upcheck

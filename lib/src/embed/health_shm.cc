#include "upcheck/health_shm.h"

#include <utility>

#include "upcheck/internal/registry.h"
#include "upcheck/internal/segment_setup.h"
#include "upcheck/shared_dict.h"

namespace upcheck {

HealthShm::HealthShm(std::unique_ptr<Segment> segment) : segment_(std::move(segment)) {}

Result<HealthShm> HealthShm::Create(const Segment::CreateOptions& options) {
  Result<std::unique_ptr<Segment>> segment = Segment::Create(options);
  if (!segment.ok()) return segment.status();
  (*segment)->Publish();
  return HealthShm(std::move(*segment));
}

Result<HealthShm> HealthShm::CreateForHost(const Segment::CreateOptions& options,
                                           const std::vector<HostUpstream>& upstreams,
                                           uint32_t max_workers, const HealthShm* carry_from) {
  std::vector<RegistryUpstreamSpec> specs;
  specs.reserve(upstreams.size());
  for (const HostUpstream& u : upstreams) {
    specs.push_back(RegistryUpstreamSpec{u.name, u.primary, u.backup, u.check});
  }
  Result<std::unique_ptr<Segment>> segment =
      SegmentSetUp::Create(options, Registry::BytesNeeded(specs, max_workers));
  if (!segment.ok()) return segment.status();
  Result<Registry> registry = Registry::Create(**segment, specs, max_workers);
  if (!registry.ok()) {
    (void)Segment::Remove(options.name);
    return registry.status();
  }
  if (carry_from != nullptr) {
    CopyEntries(carry_from->segment().dict(), (*segment)->dict());
    // The journal goes on with its numbers, so that a follower sees no break at a reload.
    Result<Registry> old = Registry::Attach(carry_from->segment());
    if (old.ok() && old->journal() != nullptr && registry->journal() != nullptr) {
      registry->journal()->CarryFrom(*old->journal());
    }
  }
  (*segment)->Publish();
  return HealthShm(std::move(*segment));
}

Result<HealthShm> HealthShm::Attach(std::string_view name) {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
  if (!segment.ok()) return segment.status();
  return HealthShm(std::move(*segment));
}

Status HealthShm::Remove() const { return Segment::Remove(segment_->name()); }

Status HealthShm::RemoveIfCurrent() const {
  Result<std::unique_ptr<Segment>> named = Segment::Open(segment_->name());
  if (!named.ok()) return Status::Ok();  // gone already, or not a segment of ours
  const SegmentInfo& mine = segment_->info();
  const SegmentInfo& theirs = (*named)->info();
  if (theirs.creator_pid != mine.creator_pid || theirs.created_ms != mine.created_ms ||
      theirs.generation != mine.generation) {
    return Status::Ok();
  }
  return Remove();
}

}  // namespace upcheck

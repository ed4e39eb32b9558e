#include "upcheck/health_shm.h"

#include <utility>

namespace upcheck {

HealthShm::HealthShm(std::unique_ptr<Segment> segment) : segment_(std::move(segment)) {}

Result<HealthShm> HealthShm::Create(const Segment::CreateOptions& options) {
  Result<std::unique_ptr<Segment>> segment = Segment::Create(options);
  if (!segment.ok()) return segment.status();
  (*segment)->Publish();
  return HealthShm(std::move(*segment));
}

Result<HealthShm> HealthShm::Attach(std::string_view name) {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
  if (!segment.ok()) return segment.status();
  return HealthShm(std::move(*segment));
}

Status HealthShm::Remove() const { return Segment::Remove(segment_->name()); }

}  // namespace upcheck

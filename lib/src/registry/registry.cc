#include "upcheck/internal/registry.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "registry/registry_access.h"
#include "registry/registry_layout.h"
#include "upcheck/internal/segment_setup.h"

namespace upcheck {

using shm::PeerAt;
using shm::PeerShm;
using shm::RegistryHeaderShm;
using shm::Str;
using shm::StringRefShm;
using shm::Up;
using shm::UpstreamShm;
using shm::WorkerSlotShm;

namespace {

constexpr size_t Align(size_t v) { return (v + 63) / 64 * 64; }

std::string CheckJson(const CheckOptions& o) {
  nlohmann::json j;
  if (o.type) j["type"] = *o.type;
  if (o.http_req) j["http_req"] = *o.http_req;
  if (o.interval_ms) j["interval"] = *o.interval_ms;
  if (o.fastinter_ms) j["fastinter"] = *o.fastinter_ms;
  if (o.downinter_ms) j["downinter"] = *o.downinter_ms;
  if (o.jitter) j["jitter"] = *o.jitter;
  if (o.timeout_ms) j["timeout"] = *o.timeout_ms;
  if (o.fall) j["fall"] = *o.fall;
  if (o.rise) j["rise"] = *o.rise;
  if (o.concurrency) j["concurrency"] = *o.concurrency;
  if (o.valid_statuses) j["valid_statuses"] = *o.valid_statuses;
  if (o.port) j["port"] = *o.port;
  if (o.host) j["host"] = *o.host;
  if (o.ssl_verify) j["ssl_verify"] = *o.ssl_verify;
  if (o.ca_file) j["ca_file"] = *o.ca_file;
  return j.dump();
}

struct Layout {
  size_t upstreams, peers, workers, versions, strings, strings_bytes, total;
};

Layout Plan(size_t upstream_count, size_t peer_count, size_t max_workers, size_t strings) {
  Layout l;
  l.upstreams = Align(sizeof(RegistryHeaderShm));
  l.peers = Align(l.upstreams + upstream_count * sizeof(UpstreamShm));
  l.workers = Align(l.peers + peer_count * sizeof(PeerShm));
  l.versions = Align(l.workers + max_workers * sizeof(WorkerSlotShm));
  l.strings = Align(l.versions + max_workers * upstream_count * sizeof(uint64_t));
  l.strings_bytes = strings;
  l.total = Align(l.strings + strings);
  return l;
}

}  // namespace

Registry::Registry(RegistryHeaderShm* header, size_t bytes) : h_(header), bytes_(bytes) {}

namespace {

struct Prepared {
  Upstreams view;  // validates and canonicalises the names
  std::string pool;
  size_t peers = 0;
};

Result<Prepared> Prepare(const std::vector<RegistryUpstreamSpec>& upstreams) {
  Prepared p;
  for (const RegistryUpstreamSpec& u : upstreams) {
    if (Status st = p.view.AddUpstream(u.name, u.primary, u.backup); !st.ok()) {
      return Status::Error("upstream \"" + u.name + "\": " + st.message());
    }
    p.pool += u.name;
    if (u.check) p.pool += CheckJson(*u.check);
    for (size_t i = 0; i < p.view.upstream_count(); ++i) {
      if (p.view.upstream_name(i) != u.name) continue;
      for (const PeerInfo& peer : p.view.primary_peers(i)) p.pool += peer.name;
      for (const PeerInfo& peer : p.view.backup_peers(i)) p.pool += peer.name;
      p.peers += p.view.primary_peers(i).size() + p.view.backup_peers(i).size();
    }
  }
  return p;
}

}  // namespace

size_t Registry::BytesNeeded(const std::vector<RegistryUpstreamSpec>& upstreams,
                             uint32_t max_workers) {
  Result<Prepared> p = Prepare(upstreams);
  if (!p.ok()) return 0;
  // 64: the journal's area starts aligned after the registry's.
  return Plan(upstreams.size(), p->peers, max_workers, p->pool.size()).total + 64 +
         Journal::BytesNeeded();
}

Result<Registry> Registry::Create(Segment& segment,
                                  const std::vector<RegistryUpstreamSpec>& upstreams,
                                  uint32_t max_workers) {
  Result<Prepared> prepared = Prepare(upstreams);
  if (!prepared.ok()) return prepared.status();
  Layout l = Plan(upstreams.size(), prepared->peers, max_workers, prepared->pool.size());
  Result<void*> area = SegmentSetUp::AllocateArea(segment, SegmentArea::kRegistry, l.total);
  if (!area.ok()) return area.status();
  char* base = static_cast<char*>(*area);
  auto* h = new (base) RegistryHeaderShm{};
  h->magic = shm::kRegistryMagic;
  h->bytes = l.total;
  h->upstream_count = static_cast<uint32_t>(upstreams.size());
  h->peer_count = static_cast<uint32_t>(prepared->peers);
  h->max_workers = max_workers;
  h->upstreams_offset = l.upstreams;
  h->peers_offset = l.peers;
  h->workers_offset = l.workers;
  h->versions_offset = l.versions;
  h->strings_offset = l.strings;
  h->strings_bytes = l.strings_bytes;

  char* pool = base + l.strings;
  uint32_t used = 0;
  auto put = [&](std::string_view s) {
    std::memcpy(pool + used, s.data(), s.size());
    StringRefShm ref{used, static_cast<uint32_t>(s.size())};
    used += static_cast<uint32_t>(s.size());
    return ref;
  };
  auto* ups = reinterpret_cast<UpstreamShm*>(base + l.upstreams);
  auto* peers = reinterpret_cast<PeerShm*>(base + l.peers);
  const Upstreams& view = prepared->view;
  uint32_t next_peer = 0;
  for (size_t u = 0; u < upstreams.size(); ++u) {
    UpstreamShm* us = new (&ups[u]) UpstreamShm{};
    us->name = put(view.upstream_name(u));
    if (upstreams[u].check) us->check_json = put(CheckJson(*upstreams[u].check));
    us->first_peer = next_peer;
    us->primary_count = static_cast<uint32_t>(view.primary_peers(u).size());
    us->backup_count = static_cast<uint32_t>(view.backup_peers(u).size());
    us->slow_start_ms = upstreams[u].slow_start_ms;
    us->panic_threshold = upstreams[u].panic_threshold;
    for (auto list : {view.primary_peers(u), view.backup_peers(u)}) {
      for (const PeerInfo& p : list) {
        PeerShm* ps = new (&peers[next_peer++]) PeerShm{};
        ps->name = put(p.name);
        ps->upstream = static_cast<uint32_t>(u);
        ps->id = p.id;
        ps->backup = p.backup;
        ps->configured_down = p.down;
      }
    }
  }
  Registry registry(h, l.total);
  Result<Journal> journal = Journal::Create(segment);
  if (!journal.ok()) return journal.status();
  registry.journal_ = *journal;
  return registry;
}

Result<Registry> Registry::Attach(const Segment& segment) {
  size_t bytes = 0;
  auto* h =
      static_cast<RegistryHeaderShm*>(SegmentSetUp::Area(segment, SegmentArea::kRegistry, &bytes));
  std::string who = "segment '" + segment.name() + "'";
  if (h == nullptr) {
    return Result<Registry>::Error(who + " has no registry: it was created without a daemon");
  }
  auto bad = [&](const char* what) {
    return Result<Registry>::Error(who + " has a corrupt registry: " + what);
  };
  if (bytes >= sizeof(RegistryHeaderShm) && h->magic != shm::kRegistryMagic &&
      h->magic >> 8 == shm::kRegistryMagic >> 8) {
    // The last byte of the magic is the layout's version, an ASCII digit.
    return Result<Registry>::Error(who + " has a registry of layout " +
                                   std::string(1, static_cast<char>(h->magic & 0xff)) +
                                   ", this program reads layout " +
                                   std::string(1, static_cast<char>(shm::kRegistryMagic & 0xff)) +
                                   ": use the upcheck tools of the version that created it");
  }
  if (bytes < sizeof(RegistryHeaderShm) || h->magic != shm::kRegistryMagic || h->bytes != bytes) {
    return bad("bad header");
  }
  // Bound every count by the area first, so that Plan() cannot wrap around.
  if (h->upstream_count > bytes / sizeof(UpstreamShm) || h->peer_count > bytes / sizeof(PeerShm) ||
      h->max_workers > bytes / sizeof(WorkerSlotShm) || h->strings_bytes > bytes ||
      uint64_t{h->max_workers} * h->upstream_count > bytes / sizeof(uint64_t)) {
    return bad("tables out of bounds");
  }
  Layout l = Plan(h->upstream_count, h->peer_count, h->max_workers, h->strings_bytes);
  if (l.total > bytes || l.upstreams != h->upstreams_offset || l.peers != h->peers_offset ||
      l.workers != h->workers_offset || l.versions != h->versions_offset ||
      l.strings != h->strings_offset) {
    return bad("tables out of bounds");
  }
  Registry r(h, bytes);
  if (SegmentSetUp::Area(segment, SegmentArea::kJournal) != nullptr) {
    Result<Journal> journal = Journal::Attach(segment);
    if (!journal.ok()) return journal.status();
    r.journal_ = *journal;
  }
  auto in_pool = [&](StringRefShm s) { return uint64_t{s.offset} + s.length <= h->strings_bytes; };
  auto* ups = reinterpret_cast<UpstreamShm*>(reinterpret_cast<char*>(h) + h->upstreams_offset);
  auto* peers = reinterpret_cast<PeerShm*>(reinterpret_cast<char*>(h) + h->peers_offset);
  for (uint32_t u = 0; u < h->upstream_count; ++u) {
    if (!in_pool(ups[u].name) || !in_pool(ups[u].check_json) ||
        uint64_t{ups[u].first_peer} + ups[u].primary_count + ups[u].backup_count > h->peer_count) {
      return bad("an upstream record is out of bounds");
    }
  }
  for (uint32_t p = 0; p < h->peer_count; ++p) {
    if (!in_pool(peers[p].name) || peers[p].upstream >= h->upstream_count) {
      return bad("a peer record is out of bounds");
    }
  }
  return r;
}

size_t Registry::upstream_count() const { return h_->upstream_count; }
std::string_view Registry::upstream_name(size_t u) const { return Str(h_, Up(h_, u).name); }
bool Registry::has_check(size_t u) const { return Up(h_, u).check_json.length > 0; }
std::string_view Registry::check_json(size_t u) const { return Str(h_, Up(h_, u).check_json); }
size_t Registry::peer_count(size_t u) const {
  return size_t{Up(h_, u).primary_count} + Up(h_, u).backup_count;
}

std::optional<size_t> Registry::FindUpstream(std::string_view name) const {
  for (size_t u = 0; u < h_->upstream_count; ++u) {
    if (upstream_name(u) == name) return u;
  }
  return std::nullopt;
}

Registry::Peer Registry::peer(size_t u, size_t k) const {
  const PeerShm& p = PeerAt(h_, Up(h_, u).first_peer + k);
  return Peer{Str(h_, p.name), p.backup != 0, p.id, p.configured_down != 0};
}

Result<Upstreams> Registry::BuildUpstreams() const {
  Upstreams view;
  for (size_t u = 0; u < upstream_count(); ++u) {
    std::vector<PeerConfig> primary, backup;
    for (size_t k = 0; k < peer_count(u); ++k) {
      Peer p = peer(u, k);
      (p.backup ? backup : primary).push_back(PeerConfig{std::string(p.name), p.configured_down});
    }
    if (Status st = view.AddUpstream(std::string(upstream_name(u)), primary, backup); !st.ok()) {
      return st;
    }
  }
  return view;
}

std::atomic<uint64_t>* Registry::version_hint(size_t u) {
  return u < h_->upstream_count ? &Up(h_, u).published_version : nullptr;
}

double Registry::published_version(size_t u) const {
  return u < h_->upstream_count ? std::bit_cast<double>(Up(h_, u).published_version.load()) : 0;
}

void Registry::AppendEvent(const JournalEvent& event) {
  if (journal_) journal_->Append(event);
}

}  // namespace upcheck

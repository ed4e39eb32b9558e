// The C API (upcheck.h) over HealthShm and CheckerSet. Nothing throws out of here: each
// entry point catches what the C++ side may throw (std::bad_alloc) and returns a code;
// the void ones leave it in upcheck_last_error().
#include "upcheck.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_words.h"
#include "upcheck/checker.h"
#include "upcheck/checker_set.h"
#include "upcheck/fleet_words.h"
#include "upcheck/health_shm.h"
#include "upcheck/size.h"

struct upcheck_shm {
  upcheck::HealthShm shm;
};

struct upcheck_set {
  std::unique_ptr<upcheck::CheckerSet> set;
};

namespace {

thread_local std::string g_last_error;

int Fail(int code, std::string message) {
  g_last_error = std::move(message);
  return code;
}

int FailNull() { return Fail(UPCHECK_EINVAL, "a required argument is NULL"); }

int NewShm(upcheck::Result<upcheck::HealthShm> shm, upcheck_shm** out) {
  if (!shm.ok()) return Fail(UPCHECK_ESHM, shm.error());
  *out = new upcheck_shm{std::move(*shm)};
  return UPCHECK_OK;
}

// Runs `body`; nothing may unwind into C, so what the C++ side throws becomes a code.
template <typename F>
int Guarded(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(UPCHECK_ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return Fail(UPCHECK_ENOMEM, e.what());
  }
}

// Check words to options, validated as far as they can be before a segment exists.
upcheck::Result<upcheck::CheckOptions> ParseWords(const char* const* words, size_t nwords) {
  std::vector<std::string_view> views;
  for (size_t i = 0; i < nwords; ++i) {
    if (words[i] == nullptr) return upcheck::Result<upcheck::CheckOptions>::Error("a NULL word");
    views.emplace_back(words[i]);
  }
  upcheck::Result<upcheck::CheckOptions> parsed = upcheck::ParseCheckWords(views);
  if (!parsed.ok()) return parsed;
  if (upcheck::Status st = upcheck::ValidateCheckOptions(*parsed); !st) return st;
  return parsed;
}

upcheck::Result<upcheck::FleetConfig> ParseFleet(const char* const* words, size_t nwords) {
  std::vector<std::string_view> views;
  for (size_t i = 0; i < nwords; ++i) {
    if (words[i] == nullptr) return upcheck::Result<upcheck::FleetConfig>::Error("a NULL word");
    views.emplace_back(words[i]);
  }
  return upcheck::ParseFleetWords(views);
}

// False, with nothing to use, when a peer has no address.
bool SplitPeers(const upcheck_peer* peers, size_t npeers, std::vector<upcheck::PeerConfig>& primary,
                std::vector<upcheck::PeerConfig>& backup) {
  for (size_t i = 0; i < npeers; ++i) {
    if (peers[i].address == nullptr) return false;
    (peers[i].backup ? backup : primary).push_back({peers[i].address, peers[i].down != 0});
  }
  return true;
}

int CreateHost(const char* name, size_t dict_size, bool replace, const upcheck_upstream* ups,
               size_t n, unsigned max_workers, const upcheck_shm* carry_from, upcheck_shm** out) {
  std::vector<upcheck::HostUpstream> hosts(n);
  for (size_t i = 0; i < n; ++i) {
    const upcheck_upstream& u = ups[i];
    if (u.name == nullptr || (u.peers == nullptr && u.npeers > 0)) return FailNull();
    hosts[i].name = u.name;
    if (!SplitPeers(u.peers, u.npeers, hosts[i].primary, hosts[i].backup)) return FailNull();
    if (u.check_words != nullptr) {
      upcheck::Result<upcheck::CheckOptions> check = ParseWords(u.check_words, u.nwords);
      if (!check.ok()) return Fail(UPCHECK_ECONFIG, check.error());
      hosts[i].check = std::move(*check);
    }
  }
  return NewShm(upcheck::HealthShm::CreateForHost(
                    {.name = name, .size = dict_size, .replace = replace}, hosts, max_workers,
                    carry_from ? &carry_from->shm : nullptr),
                out);
}

upcheck::LogLevel ToLogLevel(int level) {
  if (level <= UPCHECK_LOG_DEBUG) return upcheck::LogLevel::kDebug;
  if (level >= UPCHECK_LOG_ERROR) return upcheck::LogLevel::kError;
  return static_cast<upcheck::LogLevel>(level);
}

upcheck::CheckerSet::Options SetOptions(const upcheck_set_options* o) {
  upcheck::CheckerSet::Options options;
  if (o == nullptr) return options;
  if (o->log != nullptr) {
    options.logger = upcheck::Logger::ToCallback(
        [log = o->log, ctx = o->log_ctx](upcheck::LogLevel level, std::string_view message) {
          log(ctx, static_cast<int>(level), message.data(), message.size());
        },
        ToLogLevel(o->log_level));
  } else {
    options.logger = upcheck::Logger::Stderr(ToLogLevel(o->log_level));
  }
  if (o->on_peer_change != nullptr) {
    options.on_peer_change = [fn = o->on_peer_change, ctx = o->peer_ctx](
                                 size_t upstream, bool backup, uint32_t id, bool down) {
      fn(ctx, upstream, backup ? 1 : 0, id, down ? 1 : 0);
    };
  }
  return options;
}

int CreateSet(struct uv_loop_s* loop, const upcheck_shm* shm, const upcheck_set_options* o,
              upcheck_set** out) {
  upcheck::CheckerSet::Options options = SetOptions(o);
  if (o != nullptr && o->fleet_words != nullptr) {
    upcheck::Result<upcheck::FleetConfig> fleet = ParseFleet(o->fleet_words, o->fleet_nwords);
    if (!fleet.ok()) return Fail(UPCHECK_ECONFIG, "fleet: " + fleet.error());
    options.fleet = std::move(*fleet);
  }
  auto set = upcheck::CheckerSet::Create(loop, shm->shm, std::move(options));
  if (!set.ok()) return Fail(UPCHECK_EINVAL, set.error());
  *out = new upcheck_set{std::move(*set)};
  return UPCHECK_OK;
}

int AddUpstream(upcheck_set* set, const char* upstream, const upcheck_peer* peers, size_t npeers,
                const char* const* check_words, size_t nwords) {
  std::vector<upcheck::PeerConfig> primary, backup;
  if (!SplitPeers(peers, npeers, primary, backup)) return FailNull();
  std::optional<upcheck::CheckOptions> check;
  if (check_words != nullptr) {
    std::vector<std::string_view> words(check_words, check_words + nwords);
    upcheck::Result<upcheck::CheckOptions> parsed = upcheck::ParseCheckWords(words);
    if (!parsed.ok()) return Fail(UPCHECK_ECONFIG, parsed.error());
    check = std::move(*parsed);
  }
  upcheck::Status st =
      set->set->AddUpstream(upstream, std::move(primary), std::move(backup), std::move(check));
  return st.ok() ? UPCHECK_OK : Fail(UPCHECK_ECONFIG, st.message());
}

}  // namespace

extern "C" {

const char* upcheck_last_error(void) { return g_last_error.c_str(); }

int upcheck_shm_create(const char* name, size_t dict_size, int replace, upcheck_shm** out) {
  if (name == nullptr || out == nullptr) return FailNull();
  return Guarded([&]() -> int {
    return NewShm(
        upcheck::HealthShm::Create({.name = name, .size = dict_size, .replace = replace != 0}),
        out);
  });
}

int upcheck_shm_attach(const char* name, upcheck_shm** out) {
  if (name == nullptr || out == nullptr) return FailNull();
  return Guarded([&]() -> int { return NewShm(upcheck::HealthShm::Attach(name), out); });
}

int upcheck_shm_remove(const upcheck_shm* shm) {
  if (shm == nullptr) return FailNull();
  upcheck::Status st = shm->shm.Remove();
  return st.ok() ? UPCHECK_OK : Fail(UPCHECK_ESHM, st.message());
}

int upcheck_shm_remove_if_current(const upcheck_shm* shm) {
  if (shm == nullptr) return FailNull();
  return Guarded([&]() -> int {
    upcheck::Status st = shm->shm.RemoveIfCurrent();
    return st.ok() ? UPCHECK_OK : Fail(UPCHECK_ESHM, st.message());
  });
}

int upcheck_shm_create_host(const char* name, size_t dict_size, int replace,
                            const upcheck_upstream* upstreams, size_t nupstreams,
                            unsigned max_workers, const upcheck_shm* carry_from,
                            upcheck_shm** out) {
  if (name == nullptr || out == nullptr || (upstreams == nullptr && nupstreams > 0)) {
    return FailNull();
  }
  return Guarded([&]() -> int {
    return CreateHost(name, dict_size, replace != 0, upstreams, nupstreams, max_workers, carry_from,
                      out);
  });
}

int upcheck_validate_shm(const char* name, size_t dict_size) {
  if (name == nullptr) return FailNull();
  return Guarded([&]() -> int {
    if (upcheck::Status st = upcheck::Segment::ValidateName(name); !st) {
      return Fail(UPCHECK_ECONFIG, st.message());
    }
    if (dict_size < upcheck::Segment::kMinSize || dict_size > upcheck::Segment::kMaxSize) {
      return Fail(UPCHECK_ECONFIG, "size must be between " +
                                       upcheck::FormatSize(upcheck::Segment::kMinSize) + " and " +
                                       upcheck::FormatSize(upcheck::Segment::kMaxSize) + ", got " +
                                       upcheck::FormatSize(dict_size));
    }
    return UPCHECK_OK;
  });
}

int upcheck_validate_check(const char* const* check_words, size_t nwords) {
  if (check_words == nullptr && nwords > 0) return FailNull();
  return Guarded([&]() -> int {
    upcheck::Result<upcheck::CheckOptions> check = ParseWords(check_words, nwords);
    return check.ok() ? UPCHECK_OK : Fail(UPCHECK_ECONFIG, check.error());
  });
}

int upcheck_validate_fleet(const char* const* fleet_words, size_t nwords) {
  if (fleet_words == nullptr && nwords > 0) return FailNull();
  return Guarded([&]() -> int {
    upcheck::Result<upcheck::FleetConfig> fleet = ParseFleet(fleet_words, nwords);
    return fleet.ok() ? UPCHECK_OK : Fail(UPCHECK_ECONFIG, fleet.error());
  });
}

void upcheck_shm_free(upcheck_shm* shm) { delete shm; }

int upcheck_set_create(struct uv_loop_s* loop, const upcheck_shm* shm, upcheck_set** out) {
  if (loop == nullptr || shm == nullptr || out == nullptr) return FailNull();
  return Guarded([&]() -> int {
    auto set = upcheck::CheckerSet::Create(loop, shm->shm, SetOptions(nullptr));
    if (!set.ok()) return Fail(UPCHECK_EINVAL, set.error());
    *out = new upcheck_set{std::move(*set)};
    return UPCHECK_OK;
  });
}

int upcheck_set_create_with(struct uv_loop_s* loop, const upcheck_shm* shm,
                            const upcheck_set_options* options, upcheck_set** out) {
  if (loop == nullptr || shm == nullptr || out == nullptr) return FailNull();
  return Guarded([&]() -> int { return CreateSet(loop, shm, options, out); });
}

int upcheck_set_add_upstream(upcheck_set* set, const char* upstream, const upcheck_peer* peers,
                             size_t npeers, const char* const* check_words, size_t nwords) {
  if (set == nullptr || upstream == nullptr || (peers == nullptr && npeers > 0)) return FailNull();
  return Guarded(
      [&]() -> int { return AddUpstream(set, upstream, peers, npeers, check_words, nwords); });
}

void upcheck_set_sync(upcheck_set* set) {
  if (set == nullptr) return;
  (void)Guarded([&]() -> int {
    set->set->SyncAll();
    return UPCHECK_OK;
  });
}

int upcheck_set_pick(upcheck_set* set, const char* upstream, char* buf, size_t size) {
  if (set == nullptr || upstream == nullptr || buf == nullptr) return FailNull();
  return Guarded([&]() -> int {
    std::optional<upcheck::PeerInfo> peer = set->set->Pick(upstream);
    if (!peer) {
      return Fail(UPCHECK_ENOPEER, std::string("no peer up in upstream \"") + upstream + "\"");
    }
    if (peer->name.size() >= size) {
      return Fail(UPCHECK_ERANGE, "peer name \"" + peer->name + "\" needs " +
                                      std::to_string(peer->name.size() + 1) + " bytes");
    }
    std::memcpy(buf, peer->name.c_str(), peer->name.size() + 1);
    return UPCHECK_OK;
  });
}

void upcheck_set_sync_upstream(upcheck_set* set, size_t index) {
  if (set == nullptr) return;
  (void)Guarded([&]() -> int {
    set->set->SyncUpstream(index);
    return UPCHECK_OK;
  });
}

void upcheck_set_report_passive(upcheck_set* set, const char* upstream, int backup, unsigned id,
                                int result) {
  if (set == nullptr || upstream == nullptr) return;
  if (result < UPCHECK_PASSIVE_OK || result > UPCHECK_PASSIVE_RESET) return;
  (void)Guarded([&]() -> int {
    set->set->ReportPassive(upstream, backup != 0, id, static_cast<upcheck::PassiveResult>(result));
    return UPCHECK_OK;
  });
}

int upcheck_set_render(upcheck_set* set, int format, char** out, size_t* len) {
  if (set == nullptr || out == nullptr || len == nullptr) return FailNull();
  if (format < UPCHECK_FORMAT_TEXT || format > UPCHECK_FORMAT_JSON) {
    return Fail(UPCHECK_EINVAL, "unknown format " + std::to_string(format));
  }
  return Guarded([&]() -> int {
    std::string page;
    set->set->AppendStatus(static_cast<upcheck::StatusFormat>(format), page);
    // With its NUL: a C caller may print it, and malloc(0) could have returned NULL.
    char* buf = static_cast<char*>(std::malloc(page.size() + 1));
    if (buf == nullptr) return Fail(UPCHECK_ENOMEM, "out of memory");
    std::memcpy(buf, page.c_str(), page.size() + 1);
    *out = buf;
    *len = page.size();
    return UPCHECK_OK;
  });
}

void upcheck_set_stop(upcheck_set* set) {
  if (set == nullptr) return;
  (void)Guarded([&]() -> int {
    set->set->Stop();
    return UPCHECK_OK;
  });
}

void upcheck_set_free(upcheck_set* set) { delete set; }

}  // extern "C"

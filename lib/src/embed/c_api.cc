// The C API (upcheck.h) over HealthShm and CheckerSet. Nothing throws out of here: each
// entry point catches what the C++ side may throw (std::bad_alloc) and returns a code;
// the void ones leave it in upcheck_last_error().
#include "upcheck.h"

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_words.h"
#include "upcheck/checker_set.h"
#include "upcheck/health_shm.h"

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

int AddUpstream(upcheck_set* set, const char* upstream, const upcheck_peer* peers, size_t npeers,
                const char* const* check_words, size_t nwords) {
  std::vector<upcheck::PeerConfig> primary, backup;
  for (size_t i = 0; i < npeers; ++i) {
    if (peers[i].address == nullptr) return FailNull();
    (peers[i].backup ? backup : primary).push_back({peers[i].address, peers[i].down != 0});
  }
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

void upcheck_shm_free(upcheck_shm* shm) { delete shm; }

int upcheck_set_create(struct uv_loop_s* loop, const upcheck_shm* shm, upcheck_set** out) {
  if (loop == nullptr || shm == nullptr || out == nullptr) return FailNull();
  return Guarded([&]() -> int {
    auto set = upcheck::CheckerSet::Create(loop, shm->shm);
    if (!set.ok()) return Fail(UPCHECK_EINVAL, set.error());
    *out = new upcheck_set{std::move(*set)};
    return UPCHECK_OK;
  });
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

void upcheck_set_stop(upcheck_set* set) {
  if (set == nullptr) return;
  (void)Guarded([&]() -> int {
    set->set->Stop();
    return UPCHECK_OK;
  });
}

void upcheck_set_free(upcheck_set* set) { delete set; }

}  // extern "C"

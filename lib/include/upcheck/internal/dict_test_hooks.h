// Internal to this source tree (upcheckd's fault tests and the tests); not installed.
// A hook into SharedDict's critical sections, so that a test can kill or stop a process
// while it holds the dict lock. Process-wide; set it before the operations it should see.
#ifndef UPCHECK_INTERNAL_DICT_TEST_HOOKS_H_
#define UPCHECK_INTERNAL_DICT_TEST_HOOKS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "upcheck/internal/dict_test_hooks.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

namespace upcheck {

// When set, called with the lock held in the middle of every mutation, after the storage
// was changed in part. nullptr removes it.
void SetDictLockedHookForTesting(void (*hook)());

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_DICT_TEST_HOOKS_H_

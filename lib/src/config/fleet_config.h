// The [fleet] table (DESIGN §11): where the hosts of a fleet meet in Redis, and as whom.
// Internal to lib/src/config; single-threaded. Problems go to the reader's Diagnostics as
// "file:line:col: fleet.key: message"; an absent table leaves the fleet off.
#ifndef UPCHECK_CONFIG_FLEET_CONFIG_H_
#define UPCHECK_CONFIG_FLEET_CONFIG_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/fleet_config.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include <optional>
#include <string>

#include "config/toml_reader.h"
#include "upcheck/config.h"

namespace upcheck::config {

// Reads root's [fleet] into `fleet`; leaves it nullopt when the table is absent or wrong.
void ReadFleet(TableReader& root, std::optional<FleetConfig>& fleet);

// [fleet] as TOML, for DumpConfig; the password is not written out, only that one is set.
std::string DumpFleet(const FleetConfig& fleet);

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_FLEET_CONFIG_H_

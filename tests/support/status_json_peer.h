// The peer named `peer` in a /status.json document (upcheckd's, nginx's or upcheck-status's);
// null when the document does not parse or has no such peer. Header-only: the includer links
// nlohmann_json.
#ifndef UPCHECK_TESTS_SUPPORT_STATUS_JSON_PEER_H_
#define UPCHECK_TESTS_SUPPORT_STATUS_JSON_PEER_H_

#include <nlohmann/json.hpp>
#include <string>

namespace upcheck::testing {

inline nlohmann::json StatusJsonPeer(const std::string& json, const std::string& peer) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return nlohmann::json();
  for (const nlohmann::json& u : doc["upstreams"]) {
    for (const nlohmann::json& p : u["peers"]) {
      if (p["name"] == peer) return p;
    }
  }
  return nlohmann::json();
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_STATUS_JSON_PEER_H_

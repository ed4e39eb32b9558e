// Fuzz target: peer names, as the one parser (ParsePeerAddress) reads them for the config,
// the upstream view (Upstreams::AddUpstream) and the prober (MakeProbeTarget). Invariants:
// an accepted address has a canonical name that parses back to the same address and name;
// the prober builds a target for every accepted address, with or without a port override;
// AddUpstream accepts exactly what ParsePeerAddress accepts and names the peer canonically.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "probe/probe_target.h"
#include "upcheck/peer_address.h"
#include "upcheck/upstreams.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input, const std::string& detail) {
  std::fprintf(stderr, "%s: input \"%.*s\": %s\n", what, static_cast<int>(input.size()),
               input.data(), detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  upcheck::Result<upcheck::PeerAddress> address = upcheck::ParsePeerAddress(text);
  upcheck::Upstreams view;
  upcheck::Status added = view.AddUpstream("fuzz", {upcheck::PeerConfig{std::string(text)}}, {});
  if (address.ok() != added.ok()) {
    Fail("ParsePeerAddress and AddUpstream disagree", text,
         address.ok() ? added.message() : address.error());
  }
  if (!address.ok()) return 0;

  std::string name = upcheck::PeerAddressName(*address);
  upcheck::Result<upcheck::PeerAddress> again = upcheck::ParsePeerAddress(name);
  if (!again.ok()) Fail("canonical name refused", text, name + ": " + again.error());
  if (!(*again == *address) || upcheck::PeerAddressName(*again) != name) {
    Fail("canonical name not stable", text, name + " -> " + upcheck::PeerAddressName(*again));
  }
  if (view.primary_peers(0).size() != 1 || view.primary_peers(0)[0].name != name) {
    Fail("AddUpstream names the peer differently", text, name);
  }
  for (const std::optional<int> port : {std::optional<int>(), std::optional<int>(8080)}) {
    upcheck::Result<upcheck::ProbeTarget> target = upcheck::MakeProbeTarget(name, *address, port);
    if (!target.ok()) Fail("prober refuses a parsed address", text, target.error());
  }
  return 0;
}

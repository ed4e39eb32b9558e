#include "check/probe_options_of.h"

#include <string>
#include <vector>

#include "check/http_check.h"
#include "probe/tls_options.h"

namespace upcheck {
namespace {

ProbeScheme SchemeOf(const std::string& type) {
  if (type == "https") return ProbeScheme::kHttps;
  if (type == "tcp") return ProbeScheme::kTcp;
  if (type == "tls") return ProbeScheme::kTls;
  return ProbeScheme::kHttp;
}

}  // namespace

ProbeOptions ProbeOptionsOf(const CheckOptions& o) {
  ProbeOptions po;
  po.scheme = SchemeOf(*o.type);
  po.request = o.request ? BuildRequest(*o.request, o.host.value_or(o.upstream.value_or("")))
                         : o.http_req.value_or("");
  po.rules = ResponseRuleTextsOf(o);
  po.timeout_ms = o.timeout_ms.value_or(1000);
  po.host = UsesTls(po.scheme) ? o.host.value_or("") : "";
  po.ssl_verify = o.ssl_verify.value_or(true);
  po.ca_file = o.ca_file.value_or("");
  po.valid_statuses = o.valid_statuses;
  po.tls_cert = o.tls_cert.value_or("");
  po.tls_key = o.tls_key.value_or("");
  po.alpn = o.alpn.value_or(std::vector<std::string>{});
  if (o.tls_min_version) po.tls_min_version = ParseTlsMinVersion(*o.tls_min_version).value();
  return po;
}

}  // namespace upcheck

#include "config/check_tls.h"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "probe/tls_options.h"

namespace upcheck::config {

namespace {

std::optional<std::string> ReadFileKey(TableReader& t, std::string_view key) {
  std::optional<std::string> file = t.String(key);
  if (file && file->empty()) {
    t.ErrorAt(key, "must not be empty (a PEM file path)");
    return std::nullopt;
  }
  return file;
}

std::optional<std::vector<std::string>> ReadAlpn(TableReader& t) {
  const toml::array* array = t.Array("alpn");
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> names;
  bool all_strings = true;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = fmt::format("{}[{}]", t.PathOf("alpn"), i);
    std::optional<std::string> name = ReadString(*array->get(i), path, t.diag());
    all_strings = all_strings && name.has_value();
    if (name) names.push_back(std::move(*name));
  }
  if (!all_strings) return std::nullopt;
  if (Status st = CheckAlpnNames(names); !st) {
    t.ErrorAt("alpn", st.message());
    return std::nullopt;
  }
  return names;
}

}  // namespace

void ReadCheckTls(TableReader& t, CheckOptions& check) {
  check.tls_cert = ReadFileKey(t, "tls_cert");
  check.tls_key = ReadFileKey(t, "tls_key");
  check.alpn = ReadAlpn(t);
  check.tls_min_version = t.String("tls_min_version");
  if (check.tls_min_version) {
    if (Result<int> version = ParseTlsMinVersion(*check.tls_min_version); !version) {
      t.ErrorAt("tls_min_version", version.error());
      check.tls_min_version.reset();
    }
  }
}

void ValidateCheckTls(TableReader& t, const CheckOptions& check, ConfigFiles files) {
  if (check.type != "https" && check.type != "tls") {
    for (std::string_view key : {"tls_cert", "tls_key", "alpn", "tls_min_version"}) {
      if (t.Get(key) != nullptr) {
        t.ErrorAt(key, TlsKeyNeedsTlsType(key));
        return;
      }
    }
    return;
  }
  const bool has_cert = t.Get("tls_cert") != nullptr;
  if (has_cert != (t.Get("tls_key") != nullptr)) {
    if (has_cert) {
      t.ErrorAt("tls_cert", "\"tls_cert\" option requires \"tls_key\"");
    } else {
      t.ErrorAt("tls_key", "\"tls_key\" option requires \"tls_cert\"");
    }
    return;
  }
  if (files != ConfigFiles::kLoad || !check.tls_cert || !check.tls_key) return;
  if (Status st = CheckClientCertificate(*check.tls_cert, *check.tls_key); !st) {
    const bool about_key = st.message().starts_with("failed to load tls_key");
    t.ErrorAt(about_key ? "tls_key" : "tls_cert", st.message());
  }
}

}  // namespace upcheck::config

// The trust store an https checker loads at spawn, checked before any worker exists.
#include <sys/stat.h>

#include <memory>
#include <string>

#include "probe/tls_context.h"
#include "upcheck/checker.h"

namespace upcheck {

// The same error text as the load in each worker (TlsContext). A FIFO or a device would
// block the load, here and in the workers: refused by its type first.
Status ValidateTrustStore(const std::string& ca_file) {
  struct stat st {};
  if (stat(ca_file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Status::Error("failed to load ca_file \"" + ca_file +
                         "\": " + (S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file"));
  }
  Result<std::unique_ptr<TlsContext>> context =
      TlsContext::Create({.verify = true, .ca_file = ca_file});
  return context.ok() ? Status::Ok() : context.status();
}

}  // namespace upcheck

// One HTTP exchange with a server on 127.0.0.1, read to the server's close: what the tests
// of upcheckd's and nginx's status pages send and read.
#ifndef UPCHECK_TESTS_SUPPORT_LOOPBACK_EXCHANGE_H_
#define UPCHECK_TESTS_SUPPORT_LOOPBACK_EXCHANGE_H_

#include <chrono>
#include <map>
#include <string>

#include "upcheck/status.h"

namespace upcheck::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `request` as is to 127.0.0.1:port and reads until the server closes. Errors:
// connect, the deadline (per read or write), or no complete head ("no complete answer").
Result<HttpReply> LoopbackExchange(int port, const std::string& request,
                                   std::chrono::milliseconds deadline);

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_LOOPBACK_EXCHANGE_H_

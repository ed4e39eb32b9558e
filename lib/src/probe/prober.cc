#include "probe/prober.h"

#include <cstdlib>
#include <string_view>
#include <utility>

namespace upcheck {

Result<std::unique_ptr<Prober>> Prober::Create(uv_loop_t* loop, ProbeOptions options) {
  using R = Result<std::unique_ptr<Prober>>;
  if (options.timeout_ms < 0) {
    return R::Error("bad timeout value");
  }
  std::unique_ptr<TlsContext> tls;
  if (UsesTls(options.scheme)) {
    auto created = TlsContext::Create({.verify = options.ssl_verify,
                                       .ca_file = options.ca_file,
                                       .cert_file = options.tls_cert,
                                       .key_file = options.tls_key,
                                       .alpn = options.alpn,
                                       .min_version = options.tls_min_version});
    if (!created.ok()) {
      return created.status();
    }
    tls = std::move(created).value();
  }
  auto parser = StatusLineParser::Create();
  if (!parser.ok()) {
    return parser.status();
  }
  std::unique_ptr<ResponseMatcher> matcher;
  if (options.rules.reads_headers()) {
    auto created = ResponseMatcher::Create(options.rules);
    if (!created.ok()) {
      return created.status();
    }
    matcher = std::move(created).value();
  }
  return std::unique_ptr<Prober>(new Prober(loop, std::move(options), std::move(tls),
                                            std::move(parser).value(), std::move(matcher)));
}

Prober::Prober(uv_loop_t* loop, ProbeOptions options, std::unique_ptr<TlsContext> tls,
               std::unique_ptr<StatusLineParser> parser, std::unique_ptr<ResponseMatcher> matcher)
    : options_(std::move(options)),
      tls_(std::move(tls)),
      parser_(std::move(parser)),
      matcher_(std::move(matcher)) {
  env_.loop = loop;
  env_.options = &options_;
  env_.timeout_ms = EffectiveTimeoutMs(options_);
  env_.ssl_ctx = tls_ != nullptr ? tls_->get() : nullptr;
  env_.parser = parser_.get();
  env_.matcher = matcher_.get();
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in upcheck sets the environment.
  const char* engine = std::getenv("UPCHECK_PROBE_ENGINE");
  bool plain = options_.scheme == ProbeScheme::kHttp || options_.scheme == ProbeScheme::kTcp;
  use_epoll_ = plain && (engine == nullptr || std::string_view(engine) != "libuv");
}

Prober::~Prober() { Shutdown(); }

Status Prober::Start(const ProbeTarget& target, ProbeCallback done) {
  if (shut_down_) {
    return Status::Error("prober is shut down");
  }
  if (use_epoll_ && target.kind == ProbeTarget::Kind::kTcp) {
    if (epoll_ == nullptr) {
      epoll_ = EpollProbes::Create(env_);
      use_epoll_ = epoll_ != nullptr;
    }
    if (epoll_ != nullptr) {
      epoll_->Start(target, std::move(done));
      return Status::Ok();
    }
  }
  Probe::Start(env_, target, std::move(done), &probes_);
  return Status::Ok();
}

size_t Prober::in_flight() const {
  return probes_.size() + (epoll_ != nullptr ? epoll_->in_flight() : 0);
}

size_t Prober::idle_sockets() const { return epoll_ != nullptr ? epoll_->idle_sockets() : 0; }

uint64_t Prober::sockets_reused() const { return epoll_ != nullptr ? epoll_->sockets_reused() : 0; }

void Prober::Shutdown() {
  shut_down_ = true;
  probes_.AbortAll();
  if (epoll_ != nullptr) {
    epoll_->Close();
    epoll_ = nullptr;
  }
}

}  // namespace upcheck

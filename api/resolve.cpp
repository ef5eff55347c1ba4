// Name resolution on libuv's thread pool; only the calling fiber waits.
#include <weft/net.hpp>

#include "blocking.hpp"
#include "errors.hpp"

#include <string>

#include <netdb.h>

namespace weft {
namespace {

// Owned by the fiber while it waits; by the pool's callback once the fiber gave up on it.
struct ResolveRequest {
  uv_getaddrinfo_t req;
  detail::Fiber* fiber = nullptr;
  bool abandoned = false;
  int status = 0;
  addrinfo* result = nullptr;
};

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* r = static_cast<ResolveRequest*>(req->data);
  if (r->abandoned) {
    if (res) uv_freeaddrinfo(res);
    delete r;
    return;
  }
  r->status = status;
  r->result = res;
  r->fiber->rt->complete(r->fiber);
}

}  // namespace

Result<std::vector<Address>> resolve(std::string_view host, std::string_view service, int family,
                                     int type, const CancelToken& token) {
  detail::BlockingEntry entry(token, "resolve");
  if (auto ec = entry.need_fiber()) return ec;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return wsa::eafnosupport;
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return wsa::einval;
  if (host.empty() && service.empty()) return wsa::einval;
  if (host.find('\0') != std::string_view::npos || service.find('\0') != std::string_view::npos) {
    return wsa::einval;
  }
  if (auto ec = entry.admit()) return ec;
  detail::Fiber* f = entry.fiber();

  std::string h(host), s(service);
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_flags = AI_ADDRCONFIG;
  auto* r = new (std::nothrow) ResolveRequest;
  if (!r) return wsa::enobufs;
  r->req.data = r;
  r->fiber = f;
  int rc = uv_getaddrinfo(f->rt->loop(), &r->req, on_resolved, h.empty() ? nullptr : h.c_str(),
                          s.empty() ? nullptr : s.c_str(), &hints);
  if (rc != 0) {
    delete r;
    return detail::uv_to_error(rc);
  }
  detail::CallState st;
  {
    detail::BlockingCall call(entry);
    st = call.wait();
  }
  if (st != detail::CallState::completed) {
    // The pool request is cancelled if it has not started; otherwise its result is dropped
    // by on_resolved when it arrives. Either way the callback frees the request.
    r->abandoned = true;
    uv_cancel(reinterpret_cast<uv_req_t*>(&r->req));
    return detail::outcome_error(st);
  }
  std::vector<Address> out;
  std::error_code err;
  if (r->status != 0) {
    err = detail::uv_to_error(r->status);
  } else {
    for (addrinfo* ai = r->result; ai; ai = ai->ai_next) {
      auto a = Address::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
      if (a.ok()) out.push_back(*a);
    }
  }
  if (r->result) uv_freeaddrinfo(r->result);
  delete r;
  if (err) return err;
  return out;
}

}  // namespace weft

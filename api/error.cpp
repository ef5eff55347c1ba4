#include <weft/error.hpp>

#include "errors.hpp"
#include "log.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <uv.h>

namespace weft {
namespace {

class WsaCategory final : public std::error_category {
 public:
  constexpr WsaCategory() noexcept = default;
  const char* name() const noexcept override { return "wsa"; }

  std::string message(int v) const override {
    switch (static_cast<wsa>(v)) {
      case wsa::eintr: return "WSAEINTR: the blocking call was cancelled";
      case wsa::efault: return "WSAEFAULT: bad address (null or short buffer or pointer)";
      case wsa::einval: return "WSAEINVAL: invalid argument or state";
      case wsa::emfile: return "WSAEMFILE: too many open descriptors";
      case wsa::ewouldblock: return "WSAEWOULDBLOCK: the operation would block";
      case wsa::einprogress: return "WSAEINPROGRESS: a blocking call is in progress on this fiber";
      case wsa::enotsock: return "WSAENOTSOCK: not a socket (invalid, closed or stale handle)";
      case wsa::emsgsize: return "WSAEMSGSIZE: the datagram was larger than the buffer";
      case wsa::enoprotoopt: return "WSAENOPROTOOPT: unknown or unsupported socket option";
      case wsa::eopnotsupp: return "WSAEOPNOTSUPP: operation not supported on this socket";
      case wsa::eafnosupport: return "WSAEAFNOSUPPORT: address family not supported";
      case wsa::eaddrnotavail: return "WSAEADDRNOTAVAIL: address not available";
      case wsa::enetunreach: return "WSAENETUNREACH: network unreachable";
      case wsa::eisconn: return "WSAEISCONN: the socket is already connected";
      case wsa::ehostunreach: return "WSAEHOSTUNREACH: host unreachable";
      case wsa::eaddrinuse: return "WSAEADDRINUSE: address already in use";
      case wsa::enetdown: return "WSAENETDOWN: the runtime is stopping or stopped";
      case wsa::econnaborted: return "WSAECONNABORTED: the connection was aborted after a cancel";
      case wsa::econnreset: return "WSAECONNRESET: the connection was reset by the peer";
      case wsa::enobufs: return "WSAENOBUFS: no buffer space or stack memory available";
      case wsa::enotconn: return "WSAENOTCONN: the socket is not connected";
      case wsa::eshutdown: return "WSAESHUTDOWN: the socket has been shut down";
      case wsa::etimedout: return "WSAETIMEDOUT: the deadline expired";
      case wsa::econnrefused: return "WSAECONNREFUSED: the connection was refused";
      case wsa::host_not_found: return "WSAHOST_NOT_FOUND: no such host is known";
      case wsa::try_again:
        return "WSATRY_AGAIN: the name service did not answer; the lookup may succeed later";
      case wsa::no_recovery: return "WSANO_RECOVERY: the name service failed";
      case wsa::no_data:
        return "WSANO_DATA: the name is known but has no address of the requested kind";
    }
    return "wsa error " + std::to_string(v);
  }

  std::error_condition default_error_condition(int v) const noexcept override {
    switch (static_cast<wsa>(v)) {
      case wsa::eintr: return std::errc::interrupted;
      case wsa::efault: return std::errc::bad_address;
      case wsa::einval: return std::errc::invalid_argument;
      case wsa::emfile: return std::errc::too_many_files_open;
      case wsa::ewouldblock: return std::errc::operation_would_block;
      case wsa::einprogress: return std::errc::operation_in_progress;
      case wsa::enotsock: return std::errc::not_a_socket;
      case wsa::emsgsize: return std::errc::message_size;
      case wsa::enoprotoopt: return std::errc::no_protocol_option;
      case wsa::eopnotsupp: return std::errc::operation_not_supported;
      case wsa::eafnosupport: return std::errc::address_family_not_supported;
      case wsa::eaddrnotavail: return std::errc::address_not_available;
      case wsa::enetunreach: return std::errc::network_unreachable;
      case wsa::eisconn: return std::errc::already_connected;
      case wsa::ehostunreach: return std::errc::host_unreachable;
      case wsa::eaddrinuse: return std::errc::address_in_use;
      case wsa::enetdown: return std::errc::network_down;
      case wsa::econnaborted: return std::errc::connection_aborted;
      case wsa::econnreset: return std::errc::connection_reset;
      case wsa::enobufs: return std::errc::no_buffer_space;
      case wsa::enotconn: return std::errc::not_connected;
      case wsa::eshutdown: break;  // no portable condition
      case wsa::etimedout: return std::errc::timed_out;
      case wsa::econnrefused: return std::errc::connection_refused;
      // A failed name lookup has no errno, so no portable condition is exact, and the nearest
      // ones already mean something a caller tests for: EAGAIN is EWOULDBLOCK on Linux (a
      // WSATRY_AGAIN would compare equal to "would block"), EHOSTUNREACH is a routing failure
      // for an address that was found, ENXIO names a device. Callers compare with the wsa codes.
      case wsa::host_not_found:
      case wsa::try_again:
      case wsa::no_recovery:
      case wsa::no_data: break;
    }
    return {v, *this};
  }
};

}  // namespace

// Constant-initialised at namespace scope, so that wsa_category() — on every error a call
// returns, and in every comparison with a wsa value — is a plain address, with no guard of a
// function-local static to test. (libstdc++ keeps system_category's instance the same way.)
constinit const WsaCategory kWsaCategory;

const std::error_category& wsa_category() noexcept { return kWsaCategory; }

namespace detail {

void result_access_failed(const std::error_code& ec) noexcept {
  std::fprintf(stderr, "weft: value() of a Result holding an error: %s (%s:%d)\n",
               ec.message().c_str(), ec.category().name(), ec.value());
  std::abort();
}

std::error_code errno_to_error(int err) noexcept {
  switch (err) {
    case 0: return {};
    case EINTR: return wsa::eintr;
    case EFAULT: return wsa::efault;
    case EINVAL: return wsa::einval;
    case EMFILE:
    case ENFILE: return wsa::emfile;
    case EAGAIN: return wsa::ewouldblock;
    case EINPROGRESS:
    case EALREADY: return wsa::einprogress;
    case EBADF:
    case ENOTSOCK: return wsa::enotsock;
    case EADDRINUSE: return wsa::eaddrinuse;
    case EMSGSIZE: return wsa::emsgsize;
    case ENOPROTOOPT: return wsa::enoprotoopt;
    case EOPNOTSUPP: return wsa::eopnotsupp;
    case EAFNOSUPPORT: return wsa::eafnosupport;
    case EADDRNOTAVAIL: return wsa::eaddrnotavail;
    case ENETUNREACH: return wsa::enetunreach;
    case EISCONN: return wsa::eisconn;
    case EHOSTUNREACH: return wsa::ehostunreach;
    case ENETDOWN: return wsa::enetdown;
    case ECONNABORTED: return wsa::econnaborted;
    case ECONNRESET:
    case EPIPE: return wsa::econnreset;
    case ENOBUFS:
    case ENOMEM: return wsa::enobufs;
    case ENOTCONN: return wsa::enotconn;
    case ESHUTDOWN: return wsa::eshutdown;
    case ETIMEDOUT: return wsa::etimedout;
    case ECONNREFUSED: return wsa::econnrefused;
    default: return {err, std::generic_category()};
  }
}

std::error_code uv_to_error(int uv_status) noexcept {
  if (uv_status >= 0) return {};
  // libuv's codes on Unix are negated errno values, except for its own UV_EAI_* family
  // (getaddrinfo's codes; EAI_SYSTEM arrives as the negated errno). Those take the codes
  // Winsock's getaddrinfo returns for them (ws2tcpip.h), where weft has that code; a bad
  // service name or socket type (Winsock: WSATYPE_NOT_FOUND, WSAESOCKTNOSUPPORT) is a bad
  // argument here.
  switch (uv_status) {
    case UV_ECANCELED:
    case UV_EAI_CANCELED: return wsa::eintr;
    case UV_EAI_NONAME: return wsa::host_not_found;
    case UV_EAI_AGAIN: return wsa::try_again;
    case UV_EAI_FAIL: return wsa::no_recovery;
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY: return wsa::no_data;  // the host has no address of that family
    case UV_EAI_MEMORY: return wsa::enobufs;
    case UV_EAI_FAMILY: return wsa::eafnosupport;
    case UV_EAI_BADFLAGS:
    case UV_EAI_BADHINTS:
    case UV_EAI_OVERFLOW:
    case UV_EAI_PROTOCOL:
    case UV_EAI_SERVICE:
    case UV_EAI_SOCKTYPE: return wsa::einval;
    default: break;
  }
  // Any other code in the range libuv keeps for the family is a failed lookup all the same.
  if (uv_status <= UV__EAI_ADDRFAMILY && uv_status >= UV__EAI_PROTOCOL) return wsa::no_recovery;
  return errno_to_error(-uv_status);
}

}  // namespace detail
}  // namespace weft

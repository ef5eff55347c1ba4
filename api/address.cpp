#include <weft/net.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace weft {

namespace {

// Where sun_path starts, and its size (108 bytes on Linux).
constexpr std::size_t kPathOffset = offsetof(sockaddr_un, sun_path);
constexpr std::size_t kPathSize = sizeof(sockaddr_un::sun_path);

}  // namespace

Address::Address() noexcept : storage_{}, len_(0) {}

Result<Address> Address::parse(std::string_view host, std::uint16_t port) {
  std::string h(host);
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return wsa::einval;
}

Result<Address> Address::unix_path(std::string_view path) {
  // A filesystem path keeps room for its terminating NUL, which the kernel counts in the
  // length it reports (getsockname, accept); an abstract name is delimited by its length
  // alone and may fill sun_path. An abstract name with nothing after its lead is refused
  // like an empty path.
  const bool abstract = !path.empty() && path.front() == '\0';
  if (path.size() < (abstract ? 2u : 1u)) return wsa::einval;
  if (path.find('\0', 1) != std::string_view::npos) return wsa::einval;
  if (path.size() > (abstract ? kPathSize : kPathSize - 1)) return wsa::einval;
  Address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.len_ = static_cast<socklen_t>(kPathOffset + path.size() + (abstract ? 0 : 1));
  return a;
}

Result<Address> Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (!sa || len < static_cast<socklen_t>(sizeof(sa_family_t))) return wsa::efault;
  Address a;
  if (sa->sa_family == AF_INET) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return wsa::efault;
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  if (sa->sa_family == AF_INET6) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) return wsa::efault;
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  if (sa->sa_family == AF_UNIX) {
    // The kernel gives the family alone for an unnamed socket, a filesystem path with or
    // without its NUL (and whatever the buffer held after it), and an abstract name by its
    // length. A filesystem path is kept in one form, NUL-terminated and zeroed after, so
    // that equal paths compare equal however they were reported.
    const std::size_t bytes =
        std::min<std::size_t>(static_cast<std::size_t>(len), sizeof(sockaddr_un));
    std::memcpy(&a.storage_, sa, bytes);
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
    if (bytes <= kPathOffset) {
      a.len_ = static_cast<socklen_t>(kPathOffset);  // unnamed
    } else if (un->sun_path[0] != '\0') {
      const std::size_t n = ::strnlen(un->sun_path, bytes - kPathOffset);
      std::memset(un->sun_path + n, 0, sizeof a.storage_ - kPathOffset - n);
      a.len_ = static_cast<socklen_t>(kPathOffset + n + 1);
    } else {
      a.len_ = static_cast<socklen_t>(bytes);  // abstract
    }
    return a;
  }
  return wsa::eafnosupport;
}

static Address make_v4(std::uint32_t host_order_addr, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(host_order_addr);
  return *Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
}

static Address make_v6(const in6_addr& addr, std::uint16_t port) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin6.sin6_addr = addr;
  return *Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
}

Address Address::loopback_v4(std::uint16_t port) noexcept { return make_v4(INADDR_LOOPBACK, port); }
Address Address::any_v4(std::uint16_t port) noexcept { return make_v4(INADDR_ANY, port); }
Address Address::loopback_v6(std::uint16_t port) noexcept {
  return make_v6(in6addr_loopback, port);
}
Address Address::any_v6(std::uint16_t port) noexcept { return make_v6(in6addr_any, port); }

int Address::family() const noexcept { return len_ ? storage_.ss_family : AF_UNSPEC; }

std::uint16_t Address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string Address::unix_path_name() const {
  if (family() != AF_UNIX || len_ <= kPathOffset) return {};
  const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
  std::size_t n = len_ - kPathOffset;
  if (un->sun_path[0] != '\0') n = ::strnlen(un->sun_path, n);  // without its NUL
  return std::string(un->sun_path, n);
}

std::string Address::host() const {
  if (family() == AF_UNIX) return unix_path_name();
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
  }
  return buf;
}

std::string Address::to_string() const {
  if (family() == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
  if (family() == AF_INET) return host() + ":" + std::to_string(port());
  if (family() == AF_UNIX) {
    std::string path = unix_path_name();
    if (path.empty()) return "(unnamed)";
    // An abstract name is shown as Linux shows it in /proc/net/unix: '@' for each NUL.
    if (path.front() == '\0') std::replace(path.begin(), path.end(), '\0', '@');
    return path;
  }
  return "(none)";
}

bool Address::operator==(const Address& o) const noexcept {
  return len_ == o.len_ && std::memcmp(&storage_, &o.storage_, len_) == 0;
}

}  // namespace weft

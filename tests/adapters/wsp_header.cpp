// <weft/wsp.h> compiles as C++20 on its own, and its names are the contract's.
#include <weft/wsp.h>

#include <type_traits>

static_assert(std::is_same_v<WEFT_SOCKET, uintptr_t>);
static_assert(std::is_same_v<weft_fiber_t, uint64_t>);
static_assert(WEFT_INVALID_SOCKET == ~uintptr_t{0});
static_assert(SOCKET_ERROR == -1 && WSAEINTR == 10004 && WSAECONNREFUSED == 10061);
static_assert(WSAHOST_NOT_FOUND == 11001 && WSATRY_AGAIN == 11002 && WSANO_RECOVERY == 11003 &&
              WSANO_DATA == 11004);
static_assert(std::is_same_v<decltype(&WSPRecv), int (*)(WEFT_SOCKET, char*, int, int, int*)>);
static_assert(std::is_same_v<decltype(&weft_run), int (*)(int (*)(void*), void*)>);
static_assert(std::is_same_v<decltype(&weft_run_ex),
                             int (*)(int (*)(void*), void*, const weft_run_options*)>);
static_assert(std::is_same_v<decltype(weft_run_options::stack_size), size_t> &&
              std::is_same_v<decltype(weft_run_options::portable_mode), int>);

int main() {
  weft_fd_set set;
  WEFT_FD_ZERO(&set);
  return set.fd_count == 0 ? 0 : 1;
}

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
// Events, as api-shapes.md writes them.
static_assert(std::is_same_v<WEFT_EVENT, weft_event*>);
static_assert(WSA_INVALID_HANDLE == 6 && WSA_MAXIMUM_WAIT_EVENTS == 64);
static_assert(WSA_WAIT_EVENT_0 == 0u && WSA_WAIT_TIMEOUT == 258u &&
              WSA_WAIT_FAILED == 0xFFFFFFFFu && WSA_INFINITE == 0xFFFFFFFFu);
static_assert(FD_READ == 0x01 && FD_WRITE == 0x02 && FD_ACCEPT == 0x08 && FD_CONNECT == 0x10 &&
              FD_CLOSE == 0x20);
static_assert(FD_READ_BIT == 0 && FD_WRITE_BIT == 1 && FD_ACCEPT_BIT == 3 && FD_CONNECT_BIT == 4 &&
              FD_CLOSE_BIT == 5);
static_assert(std::is_same_v<decltype(weft_network_events::lNetworkEvents), long> &&
              std::is_same_v<decltype(weft_network_events::iErrorCode), int[6]>);
static_assert(std::is_same_v<decltype(&WSACreateEvent), WEFT_EVENT (*)(int*)>);
static_assert(std::is_same_v<decltype(&WSASetEvent), int (*)(WEFT_EVENT, int*)>);
static_assert(std::is_same_v<decltype(&WSAResetEvent), int (*)(WEFT_EVENT, int*)>);
static_assert(std::is_same_v<decltype(&WSACloseEvent), int (*)(WEFT_EVENT, int*)>);
static_assert(std::is_same_v<decltype(&WSAWaitForMultipleEvents),
                             unsigned (*)(unsigned, const WEFT_EVENT*, int, unsigned, int*)>);
static_assert(
    std::is_same_v<decltype(&WSPEventSelect), int (*)(WEFT_SOCKET, WEFT_EVENT, long, int*)>);
static_assert(std::is_same_v<decltype(&WSPEnumNetworkEvents),
                             int (*)(WEFT_SOCKET, WEFT_EVENT, weft_network_events*, int*)>);

int main() {
  weft_fd_set set;
  WEFT_FD_ZERO(&set);
  return set.fd_count == 0 ? 0 : 1;
}

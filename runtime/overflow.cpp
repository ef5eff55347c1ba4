#include "overflow.hpp"

#include "fiber.hpp"
#include "runtime_impl.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <sys/mman.h>
#include <unistd.h>

namespace weft::detail {
namespace {

constexpr std::size_t kAltStackSize = 64 * 1024;

struct sigaction g_previous;
std::once_flag g_install_once;

void write_str(const char* s) noexcept {
  std::size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_u64(std::uint64_t v) noexcept {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  write_str(p);
}

void on_segv(int sig, siginfo_t* info, void* uctx) {
  RuntimeImpl* rt = tls_runtime;
  Fiber* f = rt ? rt->current() : nullptr;
  auto* addr = static_cast<char*>(info->si_addr);
  if (f && f->stack.guard && addr >= f->stack.guard &&
      addr < f->stack.base + StackPool::page_size()) {
    // The shape of every log line: "runtime N: fiber ID (name): ...".
    write_str("weft: runtime ");
    write_u64(rt->index());
    write_str(": stack overflow in fiber ");
    write_u64(to_integer(f->id));
    write_str(" (");
    write_str(f->display_name());
    write_str(")");
    write_str(": its ");
    write_u64(f->stack.size);
    write_str("-byte stack is exhausted; raise RuntimeOptions::stack_size or "
              "SpawnOptions::stack_size\n");
    std::abort();
  }
  // Not ours: behave as if this handler had never been installed.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) {
      g_previous.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction faults again and the
  // process terminates with the usual core dump.
  signal(sig, SIG_DFL);
}

}  // namespace

OverflowGuard::OverflowGuard() noexcept {
  alt_stack_ =
      ::mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (alt_stack_ == MAP_FAILED) {
    alt_stack_ = nullptr;
    return;
  }
  stack_t ss{};
  ss.ss_sp = alt_stack_;
  ss.ss_size = kAltStackSize;
  if (::sigaltstack(&ss, &previous_) != 0) {
    ::munmap(alt_stack_, kAltStackSize);
    alt_stack_ = nullptr;
    return;
  }
  installed_ = true;
  std::call_once(g_install_once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &g_previous);
  });
}

OverflowGuard::~OverflowGuard() {
  if (!installed_) return;
  ::sigaltstack(&previous_, nullptr);
  ::munmap(alt_stack_, kAltStackSize);
}

}  // namespace weft::detail

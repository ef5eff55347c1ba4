// weft::detail — turning a fiber's stack overflow into a clear message.
//
// A guarded stack's lowest page is PROT_NONE; running into it raises SIGSEGV. While a thread
// runs a runtime it has an alternate signal stack (the faulting stack is unusable), and a
// process-wide SIGSEGV handler checks whether the fault address lies in the running fiber's
// guard page. If so it writes "weft: stack overflow in fiber <id> (<name>)..." to stderr and
// aborts; otherwise it hands the signal to the handler that was installed before it.
#pragma once

#include <csignal>

namespace weft::detail {

class OverflowGuard {
 public:
  OverflowGuard() noexcept;
  ~OverflowGuard();
  OverflowGuard(const OverflowGuard&) = delete;
  OverflowGuard& operator=(const OverflowGuard&) = delete;

 private:
  stack_t previous_{};
  void* alt_stack_ = nullptr;
  bool installed_ = false;
};

}  // namespace weft::detail

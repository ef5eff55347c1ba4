// The one wait of the coordination primitives (primitives.hpp).
#include "primitives.hpp"

namespace weft::detail {
namespace {

// Takes every node of `nodes[0, linked)` off its queue; returns the one a signaller fired, or
// nullptr.
WaitNode* unlink_all(const WaitOp* ops, WaitNode* nodes, std::size_t linked) noexcept {
  WaitNode* fired = nullptr;
  for (std::size_t i = 0; i < linked; ++i) {
    if (ops[i].kind == WaitKind::observe) {
      ops[i].observer->unlink(ops[i].data);
      continue;
    }
    std::lock_guard g(*ops[i].lock());
    ops[i].queue().unlink(&nodes[i]);
    if (nodes[i].fired.load(std::memory_order_relaxed)) fired = &nodes[i];
  }
  return fired;
}

}  // namespace

WaitResult wait_ops(WaitCall& call, const WaitOp* ops, WaitNode* nodes, std::size_t n) noexcept {
  Waiter& self = call.waiter();
  for (std::size_t i = 0; i < n; ++i) {
    nodes[i].waiter = &self;
    nodes[i].data = ops[i].data;
    nodes[i].index = static_cast<std::uint32_t>(i);
  }
  for (;;) {
    // Link a node per operation, in order, unless one can be performed now: then claim this
    // waiter's own outcome first, as a signaller would, so that a cancel (or a signaller of an
    // operation linked before) that fixed it first wins.
    std::size_t linked = 0;
    bool self_claimed = false;
    WaitResult mine;
    bool performed = false;
    std::error_code failed;
    for (std::size_t i = 0; i < n; ++i) {
      Wakes wakes;
      WaitOpLock g(ops[i]);
      if (can_start(ops[i])) {
        if (!self.claim()) break;  // fixed already: the wait below returns at once
        self_claimed = true;
        int r = perform(ops[i], self, wakes);
        if (r != kWouldBlock) {
          mine = {Err(), i, r};
          performed = true;
        }
        break;
      }
      if (ops[i].kind == WaitKind::observe) {
        linked = i + 1;  // unlinking an observer that failed to link is harmless
        failed = ops[i].observer->link(ops[i].data, call.fiber());
        if (failed) break;
        continue;
      }
      ops[i].queue().push_back(&nodes[i]);
      linked = i + 1;
    }
    if (failed) {
      // An observed socket was closed meanwhile: as poll, the call ends as cancelled.
      (void)unlink_all(ops, nodes, linked);
      return {Err(failed)};
    }
    if (performed) {
      (void)unlink_all(ops, nodes, linked);
      return mine;
    }
    if (self_claimed) {
      // Claimed, then the counterpart turned out cancelled: nothing was performed. Pending
      // again (or the cancel that arrived meanwhile), and from the top.
      (void)unlink_all(ops, nodes, linked);
      CallState st = call.rearm();
      if (st != CallState::pending) return {outcome_error(st)};
      continue;
    }
    CallState how = call.wait();
    WaitNode* fired = unlink_all(ops, nodes, linked);
    if (fired) return {Err(), fired->index, fired->result};
    if (how != CallState::completed) return {outcome_error(how)};
    // Completed with nothing performed: not a signaller's doing; look again.
    CallState st = call.rearm();
    if (st != CallState::pending) return {outcome_error(st)};
  }
}

namespace {

// The rest of a one-operation wait whose node no signaller fired: unlinked (unless a signaller
// fired it meanwhile), then the outcome that ended the wait; or, completed with nothing
// performed (not a signaller's doing), a look again, as wait_ops does.
WaitResult finish_unfired(WaitCall& call, const WaitOp& op, WaitNode& node,
                          CallState how) noexcept {
  if (WaitNode* fired = unlink_all(&op, &node, 1)) return {Err(), 0, fired->result};
  if (how != CallState::completed) return {outcome_error(how)};
  CallState st = call.rearm();
  if (st != CallState::pending) return {outcome_error(st)};
  return wait_ops(call, &op, &node, 1);
}

}  // namespace

WaitResult wait_locked_thread(const BlockingEntry& entry, const CancelToken& token,
                              const WaitOp& op, SpinLock& lock, WaitQueue& queue) {
  std::unique_lock g(lock, std::adopt_lock);
  WaitCall call(entry, token);
  WaitNode node;
  node.waiter = &call.waiter();
  node.data = op.data;
  queue.push_back(&node);
  g.unlock();
  CallState how = call.wait();
  // Fired: its signaller took it off its queue and is done with it (Wakes::fire).
  if (node.fired.load(std::memory_order_acquire)) return {Err(), 0, node.result};
  return finish_unfired(call, op, node, how);
}

WaitResult fiber_unfired(BlockingCall& bc, const Waiter& self, const WaitOp& op,
                         WaitNode& node) noexcept {
  WaitCall call(bc, self);
  return finish_unfired(call, op, node, CallState::completed);
}

}  // namespace weft::detail

// weft::detail — the registrations of one blocking call on the tokens that may cancel it.
#pragma once

#include "cancel_state.hpp"

#include <weft/cancel_token.hpp>

#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace weft::detail {

struct Fiber;

// The registrations that cancel a fiber's outstanding call when a token applying to it (the
// call's own, its scopes') is cancelled, for the duration of one blocking call. A fiber has
// at most one outstanding call, so they live in its record (Fiber::call_registrations): the
// first two in place — a call given a token, or inside one scope, allocates nothing — and
// deeper nesting spills to the heap. (A token's own array of callbacks holds four in place,
// and keeps what it grew to.) In the record rather than the call's frame because a token's
// cancel reads every registration: fiber records, allocated one after another, are read as
// a stream, where frames on 100,000 stacks were a cache miss each.
class CallRegistrations {
 public:
  CallRegistrations() noexcept = default;
  ~CallRegistrations() { clear(); }
  CallRegistrations(const CallRegistrations&) = delete;
  CallRegistrations& operator=(const CallRegistrations&) = delete;

  // Registers a cancel of fiber f's outstanding call on t (runs at once if t is cancelled
  // already). The registration lives in f's record, so f outlives it.
  void add(const CancelToken& t, Fiber* f);
  // Deregisters all (waiting for one running on another thread), newest first.
  // Inline for the two commonest cases: no registration, and one (a call given a token, or
  // in one scope) — whose end, when its token was cancelled, is then a load and a test.
  // (The spill is used only once the inline places are full: count_ == 0 means none.)
  void clear() noexcept {
    if (count_ == 0) return;
    if (count_ == 1) {
      count_ = 0;
      at(0)->end();
      return;
    }
    clear_all();
  }

  // For CancelState::request, under the token's lock: the affinity this thread's
  // registrations carry (0 on a thread that runs no runtime), and the cancel of a run of
  // them by this thread. They belong to fibers of this thread, which no other thread removes,
  // and fixing a call's outcome runs no code of the fiber's. cancel_here cancels the
  // registrations among the first `max` of `run` (`avail` long; nulls are removed ones) up to
  // the first of another kind, takes them off the array, and returns how many places it went
  // past; it loads the callbacks, records and outcome words of those ahead as it goes.
  static std::uint32_t thread_affinity() noexcept;
  static std::uint32_t cancel_here(CancelRegistration** run, std::uint32_t avail, std::uint32_t max,
                                   std::uint32_t affinity, CancelReason why) noexcept;

 private:
  void clear_all() noexcept;

  static constexpr int kInline = 2;
  static_assert(sizeof(int) + sizeof(CancelRegistration) <= 64 && alignof(CancelRegistration) <= 8,
                "the count and the first registration share one cache line");
  CancelRegistration* at(int i) noexcept {
    return std::launder(reinterpret_cast<CancelRegistration*>(inline_[i]));
  }
  // The count and the first registration in one cache line (Fiber places it so): a call's
  // start and end, and a cancel, touch only that line. The spill last: nested scopes only.
  int count_ = 0;
  alignas(CancelRegistration) unsigned char inline_[kInline][sizeof(CancelRegistration)];
  std::vector<std::unique_ptr<CancelRegistration>> more_;
};

}  // namespace weft::detail

// The pool calls: offload, and the machinery the file calls share (runtime/pool.hpp says the
// rule).
#include <weft/offload.hpp>

#include "pool.hpp"

#include <atomic>
#include <cstdint>
#include <new>

#include <uv.h>

namespace weft::detail {

PoolJob::~PoolJob() = default;

namespace {

enum JobState : int { kQueued, kStarted, kAbandoned };

// The runtime's part of a job, kept in PoolJob::space_.
struct PoolSlot {
  uv_work_t req;
  std::atomic<int> state{kQueued};
  bool done = false;  // the job has ended and its after-work callback has run (loop thread)
  Fiber* fiber = nullptr;
  OutcomeWord* word = nullptr;
  std::uint64_t gen = 0;
};
static_assert(sizeof(PoolSlot) <= sizeof(PoolJob::space_), "PoolJob::space_ is too small");
static_assert(alignof(PoolSlot) <= 16);

PoolSlot* slot_of(PoolJob* job) noexcept {
  return std::launder(reinterpret_cast<PoolSlot*>(job->space_));
}

// On a pool thread.
void on_work(uv_work_t* req) {
  auto* job = static_cast<PoolJob*>(req->data);
  PoolSlot* p = slot_of(job);
  int expected = kQueued;
  if (!p->state.compare_exchange_strong(expected, kStarted, std::memory_order_acq_rel)) return;
  // The start fixes the call's outcome: a cancel from here on finds it completed. (It fails,
  // harmlessly, when a cancel fixed the outcome between the fiber's queueing and this start
  // and the fiber has not yet woken to abandon the job: the job runs and is waited for.)
  p->word->complete(p->gen, CallState::completed);
  job->run();
}

// On the loop thread of the runtime that queued the job.
void on_after_work(uv_work_t* req, int /*status: UV_ECANCELED for an abandoned job*/) {
  auto* job = static_cast<PoolJob*>(req->data);
  PoolSlot* p = slot_of(job);
  if (p->state.load(std::memory_order_acquire) == kAbandoned) {
    p->~PoolSlot();
    delete job;
    return;
  }
  p->done = true;
  p->fiber->rt->make_ready(p->fiber);
}

}  // namespace

CallState pool_run(BlockingCall& call, std::unique_ptr<PoolJob>& job) noexcept {
  Fiber* f = call.fiber();
  PoolSlot* p = ::new (static_cast<void*>(job->space_)) PoolSlot;
  p->req.data = job.get();
  p->fiber = f;
  p->word = &f->slot->word;
  p->gen = f->gen();
  if (uv_queue_work(f->rt->loop(), &p->req, on_work, on_after_work) != 0) {
    p->~PoolSlot();
    return CallState::idle;
  }
  CallState how = call.wait();
  if (how != CallState::completed) {
    int expected = kQueued;
    if (p->state.compare_exchange_strong(expected, kAbandoned, std::memory_order_acq_rel)) {
      // Never started, never will: the runtime frees it when libuv hands it back.
      uv_cancel(reinterpret_cast<uv_req_t*>(&p->req));
      (void)job.release();
      return how;
    }
    // A pool thread took it first: the start fixed the outcome, whatever the word says.
  }
  while (!p->done) f->rt->suspend();  // other wake-ups before the job's end are absorbed
  p->~PoolSlot();
  // A cancel that won the word but lost the job stays a request: a call that goes on to wait
  // for something else (sendfile) ends at its next wait, as if the cancel had come after.
  if (how != CallState::completed) f->slot->word.complete_over(f->gen(), how);
  return CallState::completed;
}

Status pool_wait(const BlockingEntry& entry, std::unique_ptr<PoolJob>& job) noexcept {
  BlockingCall call(entry);
  CallState how = pool_run(call, job);
  if (how == CallState::idle) return wsa::enobufs;
  return outcome_error(how);
}

Status offload_call(std::unique_ptr<PoolJob>& job, const CancelToken& token) {
  BlockingEntry entry(token, "offload");
  if (auto ec = entry.need_fiber()) return ec;
  if (auto ec = entry.admit()) return ec;
  return pool_wait(entry, job);
}

}  // namespace weft::detail

// weft::detail — blocking calls whose work runs on libuv's thread pool: offload and the file
// calls (semantics.md §10).
//
// The rule, in one place. A call hands a PoolJob to the pool and parks. The pool's start of the
// job and a cancel (or a deadline, or stop) race through the call's one outcome word
// (fiber_table.hpp), and the first fixes it:
//
//   - the start wins: the pool thread fixes the outcome to `completed` before it runs the job,
//     so a cancel from then on finds the call completed and changes nothing. The fiber waits
//     for the job's end and returns its real result.
//   - the cancel wins: the job's own state (queued → abandoned, on the fiber's thread) keeps
//     the pool from starting it; the call returns the cancel's error at once and the runtime
//     frees the job when libuv gives it back (uv_cancel takes it off the queue; if a pool
//     thread had already dequeued it, that thread finds it abandoned and returns).
//
// Between the two stands the job's state, queued → started (pool thread) or queued → abandoned
// (the fiber), one compare-and-swap each: a job is either run or abandoned, never both. A job
// that a pool thread started after the cancel fixed the outcome (it won the state, then lost
// the outcome) is waited for like any started job: the call returns its real result.
//
// No buffer is released while the pool may touch it: a job reaches the caller's memory only
// from run(), and a call returns before its job ended only when the job will never run.
#pragma once

#include "blocking.hpp"

#include <weft/offload.hpp>

#include <memory>

namespace weft::detail {

// Runs `job` on the pool for the blocking call `entry` admitted (admit() returned no error).
// Returns when the job has ended (its result is in it) or with the outcome's error when a
// cancel, a deadline or stop came before the job started (then `job` has been released to the
// runtime, which frees it). WSAENOBUFS if libuv refused the request.
Status pool_wait(const BlockingEntry& entry, std::unique_ptr<PoolJob>& job) noexcept;

// The same within a blocking call already outstanding (a call that waits for several things
// in turn, as sendfile waits for the pool and for the socket): returns `completed` when the
// job ran (the call's outcome stays completed: rearm() before its next wait), the outcome
// when a cancel, a deadline or stop gave the job up first (`job` released to the runtime),
// or `idle` when libuv refused the request.
CallState pool_run(BlockingCall& call, std::unique_ptr<PoolJob>& job) noexcept;

}  // namespace weft::detail

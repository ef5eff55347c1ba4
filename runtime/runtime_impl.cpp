#include "runtime_impl.hpp"

#include "blocking.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "overflow.hpp"
#include "socket_table.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <typeinfo>

namespace weft::detail {

constinit thread_local RuntimeImpl* tls_runtime WEFT_TLS_FAST = nullptr;

namespace {

// The data a fiber hands the scheduler on its last switch.
char kFinishedMark;
void* const kFinished = &kFinishedMark;

// uv_run(UV_RUN_ONCE) runs due timers before it polls; if this callback did nothing, the poll
// that follows would wait with no timer armed. uv_stop makes that poll return at once, and our
// heap is then served after uv_run returns.
void loop_timer_cb(uv_timer_t* t) { uv_stop(t->loop); }

[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "weft: fatal: %s\n", what);
  std::abort();
}

// The longest watch an option may ask for (spin_before_sleep): a second.
constexpr std::int64_t kMaxSpinUs = 1'000'000;

}  // namespace

RuntimeImpl::RuntimeImpl(Runtime* owner, const RuntimeOptions& options)
    : owner_(owner),
      options_(options),
      mailbox_(RuntimeMailbox::create(options.wake)),
      stacks_(options.stack_size, options.guarded_stack_limit, options.stack_pool_size),
      sockets_(std::make_unique<SocketTable>(this, mailbox_->index())) {
  if (!mailbox_) fatal("cannot create the runtime's wake-up descriptor");
  counters_ = &mailbox_->counters;
  spin_max_ns_ = std::min<std::int64_t>(options.spin_before_sleep.count(), kMaxSpinUs) * 1000;
  if (uv_loop_init(&loop_) != 0) fatal("uv_loop_init failed");
  if (options_.wake == WakeMethod::eventfd) {
    uv_poll_init(&loop_, &wake_poll_, mailbox_->event_fd());
    wake_poll_.data = this;
    uv_poll_start(&wake_poll_, UV_READABLE, [](uv_poll_t* h, int, int) {
      auto* rt = static_cast<RuntimeImpl*>(h->data);
      rt->wake_unread_ = true;  // read back before the next poll (RuntimeMailbox::reset_wake)
      rt->woke_by_mailbox_ = true;
      bump(rt->counters_->wakeups);
      rt->drain_mailbox();
    });
  } else {
    uv_async_init(&loop_, &wake_async_, [](uv_async_t* h) {
      auto* rt = static_cast<RuntimeImpl*>(h->data);
      rt->woke_by_mailbox_ = true;
      bump(rt->counters_->wakeups);
      rt->drain_mailbox();
    });
    wake_async_.data = this;
    mailbox_->attach_async(&wake_async_);
  }
  uv_timer_init(&loop_, &loop_timer_);
  update_stack_stats();
}

RuntimeImpl::~RuntimeImpl() {
  if (running_) fatal("a weft::Runtime was destroyed while its run() was still going");
  std::vector<Message> leftover;
  mailbox_->close(leftover);
  for (Message& m : leftover) {
    if (m.kind == Message::Kind::spawn) discard_unstarted(m.fiber);
  }
  leftover.clear();
  if (sockets_->open_count() > 0) {
    log_debug("runtime {}: closing {} sockets left open", index(), sockets_->open_count());
  }
  sockets_.reset();
  while (RuntimeHandle* h = handles_.pop_front()) h->runtime_ending();
  if (options_.wake == WakeMethod::eventfd) {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_poll_), nullptr);
  } else {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_async_), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&loop_timer_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0)
    log_error("runtime {}: the loop still had handles at destruction", index());
  mailbox_->release();
}

std::int64_t RuntimeImpl::now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------
// Fibers: creation and end

Fiber* RuntimeImpl::new_fiber(TaskPtr task, SpawnOptions options, Status& err) {
  auto* f = new (std::nothrow) Fiber;
  if (!f) {
    err = wsa::enobufs;
    return nullptr;
  }
  f->rt = this;
  f->task = std::move(task);
  f->name = std::move(options.name);
  f->spawn_function = options.where.function;
  f->spawn_file = options.where.file;
  f->spawn_line = options.where.line;
  f->stack_request = options.stack_size;
  f->id = fiber_table_acquire(f, index());
  if (f->id == FiberId::none) {
    delete f;
    err = wsa::enobufs;
    return nullptr;
  }
  f->slot = fiber_table_slot(f->id);
  return f;
}

bool RuntimeImpl::attach_stack(Fiber* f) noexcept {
  // Its place in the run queue first (run_queue.hpp): a fiber that could not be queued
  // must not start.
  if (!ready_.reserve(fibers_ + 1)) return false;
  f->stack = stacks_.allocate(f->stack_request);
  update_stack_stats();
  if (!f->stack) return false;
  f->ctx.fctx = bctx::make_fcontext(f->stack.top(), f->stack.size, &RuntimeImpl::fiber_entry);
  f->ctx.stack_bottom = f->stack.base;
  f->ctx.stack_size = f->stack.size;
  sanitizer_fiber_create(f->ctx);
  ++fibers_;
  all_.push_back(f->all_hook);
  return true;
}

Result<FiberId> RuntimeImpl::spawn_local(TaskPtr task, SpawnOptions options) {
  if (stopping()) return wsa::enetdown;
  Status err;
  Fiber* f = new_fiber(std::move(task), std::move(options), err);
  if (!f) return err.error();
  if (!attach_stack(f)) {
    fiber_table_release(f->id);
    delete f;
    return wsa::enobufs;
  }
  counters_->alive.fetch_add(1, std::memory_order_relaxed);
  count_spawn();
  make_ready(f);
  return f->id;
}

Result<FiberId> RuntimeImpl::spawn(TaskPtr task, SpawnOptions options) {
  if (!task) return wsa::einval;
  if (tls_runtime == this) return spawn_local(std::move(task), std::move(options));
  if (stopping()) return wsa::enetdown;
  // From another thread: the fiber record is made here, its stack by the loop when it drains
  // the message (stacks belong to the loop's thread).
  Status err;
  Fiber* f = new_fiber(std::move(task), std::move(options), err);
  if (!f) return err.error();
  FiberId id = f->id;
  counters_->alive.fetch_add(1, std::memory_order_relaxed);
  Message m{Message::Kind::spawn};
  m.fiber = f;
  if (!mailbox_->push(std::move(m))) {
    counters_->alive.fetch_sub(1, std::memory_order_relaxed);
    fiber_table_release(id);
    delete f;
    return wsa::enetdown;
  }
  return id;
}

void RuntimeImpl::fiber_entry(bctx::transfer_t t) {
  auto* f = static_cast<Fiber*>(enter_context(t));
  RuntimeImpl* rt = f->rt;
  try {
    f->task->run();
    f->task.reset();  // captures are destroyed on the fiber, where their destructors may block
  } catch (const std::exception& e) {
    log_critical("runtime {}: {}: uncaught exception {}: {}", rt->index(), fiber_label(*f),
                 typeid(e).name(), e.what());
    std::terminate();
  } catch (...) {
    log_critical("runtime {}: {}: uncaught exception of unknown type", rt->index(),
                 fiber_label(*f));
    std::terminate();
  }
  exit_context(rt->sched_, kFinished);
}

void RuntimeImpl::finish(Fiber* f) noexcept {
  if (f->mutexes_held > 0) {
    log_warn("runtime {}: {}: ended holding {} mutex(es), which stay locked", index(),
             fiber_label(*f), f->mutexes_held);
  }
  // Joiners first, while f's id still names a live fiber.
  f->joiners.for_each([this](JoinWaiter& w) {
    w.hook.unlink();
    complete(w.fiber);
  });
  // Made ready while it ran (its call's outcome fixed from its own hook, say) and ended
  // without parking again: its place in the queue goes with it.
  if (f->queued) ready_.erase(f);
  f->all_hook.unlink();
  fiber_table_release(f->id);
  sanitizer_fiber_destroy(f->ctx);
  stacks_.release(f->stack);
  --fibers_;
  update_stack_stats();
  delete f;
  counters_->alive.fetch_sub(1, std::memory_order_relaxed);
}

void RuntimeImpl::discard_unstarted(Fiber* f) noexcept {
  f->joiners.for_each([this](JoinWaiter& w) {
    w.hook.unlink();
    complete(w.fiber);
  });
  fiber_table_release(f->id);
  delete f;
  counters_->alive.fetch_sub(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------
// Scheduling

bool RuntimeImpl::complete(Fiber* f, CallState how) noexcept {
  // A stop requested since the last sweep fixes every outstanding call first, so nothing this
  // thread does after stop() (a close cancelling waiters, a readiness callback) can give those
  // calls another outcome.
  if (!stop_swept_ && running_ && stopping()) sweep_for_stop();
  if (!f->slot->word.complete(f->gen(), how)) return false;
  make_ready(f);
  return true;
}

void RuntimeImpl::yield() noexcept {
  Fiber* f = current_;
  make_ready(f);
  suspend();
  // A yield is a point where messages posted to a fiber that is not blocked get to run.
  if (f->has_pseudo_work() && !f->messages.empty()) run_fiber_messages(f, false);
}

void RuntimeImpl::switch_to(Fiber* f) noexcept {
  current_ = f;
  count_switch_into(f);
  void* data = switch_context(sched_, f->ctx, f);
  // Back from whichever fiber ran last: f may have handed the thread on.
  counters_->running.store(0, std::memory_order_relaxed);
  if (data == kFinished) finish(current_);
  current_ = nullptr;
}

void RuntimeImpl::prefetch_queued() noexcept {
  // When many fibers wake at once (a token's fan-out) their records, saved contexts and
  // frames are cold, and each costs a wait for memory unless loaded ahead. At each switch,
  // two fibers further back in the run queue get loaded, each far enough ahead that the
  // load has landed by the time it is used:
  // - the one kRecordAhead places on, its record's three hot lines (fiber.hpp): the fields a
  //   switch, a blocking call and its registration touch, saved context among them;
  // - the one kStackAhead places on, whose record was so loaded some switches ago: its saved
  //   registers and the frames it returns through first (the stack grows down: they lie just
  //   above the saved stack pointer), and its slot in the fiber table.
  // Frames: six lines cover the frames of a fiber parked in join or sleep; six more are loaded
  // only when the stack holds that much above the saved pointer (a fiber parked in recv).
  // Not past the stack's top: beyond it lies another mapping (a guard page, another stack's
  // untouched bottom), whose lines would cost page walks for nothing. (Loops of constant
  // length, unrolled: this runs at every switch.)
  static_assert(kRecordAhead > kStackAhead);  // prefetch_ahead's test: nothing short of both
  constexpr std::size_t kRecordLines = 3;
  if (Fiber* r = ready_.peek(kRecordAhead)) {
    const char* record = reinterpret_cast<const char*>(r);
    for (std::size_t line = 0; line < kRecordLines; ++line) __builtin_prefetch(record + 64 * line);
  }
  Fiber* f = ready_.peek(kStackAhead);
  if (!f) return;
  const char* sp = static_cast<const char*>(f->ctx.fctx);
  const char* top = static_cast<const char*>(f->ctx.stack_bottom) + f->ctx.stack_size;
  for (int line = 0; line < 6; ++line) __builtin_prefetch(sp + 64 * line);
  if (top - sp >= 12 * 64) {
    for (int line = 6; line < 12; ++line) __builtin_prefetch(sp + 64 * line);
  }
  __builtin_prefetch(f->slot);
}

void RuntimeImpl::run_ready() noexcept {
  // At most kEventInterval switches between two polls of the loop, counting the fibers'
  // own hand-offs (suspend): ready fibers that keep yielding cannot starve I/O and timers,
  // and a busy runtime pays one poll syscall per kEventInterval switches rather than one per
  // round. (tokio's scheduler uses 61 likewise.)
  constexpr int kEventInterval = 61;
  budget_ = kEventInterval;
  while (budget_ > 0) {
    // A stop is noticed at every scheduling point, not only between rounds.
    if (!stop_swept_ && stopping()) sweep_for_stop();
    Fiber* f = pop_ready();
    if (!f) break;
    --budget_;
    prefetch_ahead();
    switch_to(f);
  }
  budget_ = 0;  // spent or not, the budget ends with the round
}

void RuntimeImpl::drain_mailbox() noexcept {
  mailbox_->begin_drain();  // before the take: a push that lands after it wakes the loop again
  mailbox_->take(inbox_);
  // A foreign cancel fixed the outcome; the fiber may have ended meanwhile (its id is stale
  // then) or be parked again on a later call (it wakes spuriously and re-parks).
  auto wake = [this](FiberId id) {
    if (FiberSlot* s = fiber_table_live_slot(id)) make_ready(s->fiber);
  };
  for (unsigned i = 0; i < inbox_.wake_count; ++i) wake(inbox_.wakes[i]);
  for (Message& m : inbox_.messages) {
    switch (m.kind) {
      case Message::Kind::wake: wake(m.id); break;
      case Message::Kind::spawn:
        if (attach_stack(m.fiber)) {
          count_spawn();
          make_ready(m.fiber);
        } else {
          log_error("runtime {}: {}: no stack for a fiber spawned from another thread; it "
                    "will not run",
                    index(), fiber_label(*m.fiber));
          discard_unstarted(m.fiber);
        }
        break;
      case Message::Kind::post: run_task_outside_fiber(*m.task); break;
      case Message::Kind::fiber_post: {
        // A fiber message from another thread; dropped if its fiber has ended meanwhile.
        if (FiberSlot* s = fiber_table_live_slot(m.id)) {
          s->fiber->queue_message(std::move(m.task));
          if (s->fiber->call_state() == CallState::pending) make_ready(s->fiber);
        }
        break;
      }
    }
  }
  inbox_.messages.clear();
}

void RuntimeImpl::run_task_outside_fiber(Task& task) noexcept {
  try {
    task.run();
  } catch (const std::exception& e) {
    log_critical("runtime {}: posted function: uncaught exception {}: {}", tls_runtime->index(),
                 typeid(e).name(), e.what());
    std::terminate();
  } catch (...) {
    log_critical("runtime {}: posted function: uncaught exception of unknown type",
                 tls_runtime->index());
    std::terminate();
  }
}

void RuntimeImpl::sweep_for_stop() noexcept {
  stop_swept_ = true;
  log_debug("runtime {}: stopping; fibers alive: {}", index(), counters_->alive.load());
  all_.for_each([this](Fiber& f) { complete(&f, CallState::netdown); });
  sockets_->finish_reaping();
}

// With no fiber to run, watches the mailbox for up to spin_ns_ (or until the next timer is
// due) instead of sleeping. True if the loop is to go round again: a push came, taken here
// when it made no eventfd write, else by the top of the loop.
bool RuntimeImpl::spin_before_sleep() noexcept {
  const std::int64_t now = now_ns();
  std::int64_t deadline = now + spin_ns_;
  bool by_timer = false;
  if (TimerNode* t = timers_.top(); t && t->due < deadline) {
    if (t->due <= now) return false;
    deadline = t->due;
    by_timer = true;
  }
  switch (mailbox_->spin_until(deadline)) {
    case RuntimeMailbox::Spin::pushed:
      bump(counters_->wakeups);
      bump(counters_->spin_wakeups);
      spin_backoff_ = 0;
      drain_mailbox();
      return true;
    case RuntimeMailbox::Spin::pending: return true;
    case RuntimeMailbox::Spin::timed_out:
      bump(counters_->spins_timed_out);
      if (by_timer) return false;
      // Wasted: watch half as long next time. Under a microsecond, not at all, and for a
      // while not even after short sleeps: the pusher may need this very core (both threads
      // pinned to it, or more runnable threads than cores), which a watch only holds off.
      spin_ns_ /= 2;
      if (spin_ns_ < 1000) {
        spin_ns_ = 0;
        spin_backoff_ = std::min<std::uint32_t>(2 * spin_backoff_ + 1, 1023);
        spin_cooldown_ = spin_backoff_;
      }
      return false;
  }
  return false;
}

// A sleep that a wake-up from another thread ended, `after_ns` after the loop went to sleep
// (when the push made its syscall: the sleeping thread's wake-up comes later, by as much as
// the kernel and the hypervisor take). Within kLearnFrom times the longest watch, it
// teaches a loop that does not watch to watch, for twice that long (at most the longest
// watch). Not only within the longest watch: where two runtimes hand each other work and
// both sleep, each sees the other's push only after the other's own wake-up, so neither
// would learn; once one watches, the other's pushes come at once and it learns too. (A
// loop that watches unlearns it only by watches that run out, halving each time.) A push
// from before the sleep (a wake-up whose messages an earlier drain took: a spawn before
// run()) teaches nothing.
void RuntimeImpl::learn_spin(std::int64_t after_ns) noexcept {
  constexpr std::int64_t kLearnFrom = 4;
  if (spin_ns_ > 0 || after_ns < 0 || after_ns >= kLearnFrom * spin_max_ns_) return;
  if (spin_cooldown_ > 0) {
    --spin_cooldown_;
    return;
  }
  spin_ns_ = std::min(spin_max_ns_, std::max<std::int64_t>(2 * after_ns, 2'000));
}

void RuntimeImpl::arm_loop_timer() noexcept {
  TimerNode* top = timers_.top();
  if (!top) {
    if (loop_timer_due_ >= 0) {
      uv_timer_stop(&loop_timer_);
      loop_timer_due_ = -1;
    }
    return;
  }
  // libuv's loop clock is coarser than ours, so its timer may fire before our earliest node
  // is due by our clock: the node stays on top and the now inactive timer must be re-armed.
  if (top->due == loop_timer_due_ && uv_is_active(reinterpret_cast<uv_handle_t*>(&loop_timer_))) {
    return;
  }
  std::int64_t delta = top->due - now_ns();
  std::uint64_t ms = delta <= 0 ? 0 : static_cast<std::uint64_t>((delta + 999'999) / 1'000'000);
  uv_update_time(&loop_);
  uv_timer_start(&loop_timer_, loop_timer_cb, ms, 0);
  loop_timer_due_ = top->due;
}

void RuntimeImpl::fire_timers() noexcept {
  if (timers_.empty()) return;
  std::int64_t now = now_ns();
  while (TimerNode* t = timers_.top()) {
    if (t->due > now) break;
    timers_.pop();
    t->fire(t);
  }
  if (timers_.empty() && loop_timer_due_ >= 0) {
    uv_timer_stop(&loop_timer_);
    loop_timer_due_ = -1;
  }
}

Status RuntimeImpl::run() {
  if (tls_runtime) return wsa::einval;
  if (stopped_) return wsa::enetdown;
  tls_runtime = this;
  running_ = true;
  sanitizer_adopt_current(sched_);
  OverflowGuard overflow_guard;
  log_debug("runtime {}: run", index());

  drain_mailbox();
  for (;;) {
    if (mailbox_->wake_pending()) {
      // Messages that came while fibers ran: their eventfd write (if made yet) is read back
      // before the next poll, like a delivered wake-up's, rather than costing a poll of its own.
      wake_unread_ = true;
      drain_mailbox();
    }
    if (!stop_swept_ && stopping()) sweep_for_stop();
    run_ready();
    if (counters_->alive.load(std::memory_order_acquire) == 0) {
      drain_mailbox();
      if (counters_->alive.load(std::memory_order_acquire) != 0 || !ready_.empty()) continue;
      // A hold keeps the loop waiting for work from other threads (until stop()).
      bool held = !stopping() && mailbox_->holds.load(std::memory_order_acquire) > 0;
      if (!held) {
        // Every fiber has ended. Cancelled connects still held by the reaper are the
        // runtime's to finish (reset if they connect): wait for them, unless stopping.
        if (stopping()) sockets_->finish_reaping();
        if (counters_->pending_connects.load(std::memory_order_relaxed) == 0) break;
      }
    }
    if (wake_unread_) {
      // The fibers the last wake-up readied have run; now the eventfd is read back, and a
      // push whose wake-up that read swallowed is drained before the loop may sleep.
      wake_unread_ = false;
      mailbox_->reset_wake();
      if (mailbox_->wake_pending()) continue;
    }
    const bool sleeps = ready_.empty();
    // Only a loop whose fibers have woken another thread since it last went to sleep may be
    // waiting for that thread's answer: only it watches before it sleeps, and learns to
    // (spin_before_sleep). One that is only handed work — the consumers of a stream fed
    // from another runtime — sleeps, and the work piles up meanwhile to be taken in a batch.
    const bool awaits = sleeps && woke_elsewhere_;
    if (sleeps) woke_elsewhere_ = false;
    if (awaits && spin_ns_ > 0 && spin_before_sleep()) continue;
    arm_loop_timer();
    // A sleep that a wake-up from another thread ends soon enough teaches the loop to watch
    // (learn_spin): it would have seen that wake-up sooner.
    const std::int64_t slept_from = awaits && spin_max_ns_ > 0 ? now_ns() : 0;
    woke_by_mailbox_ = false;
    in_uv_run_ = true;
    uv_run(&loop_, sleeps ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    in_uv_run_ = false;
    if (slept_from && woke_by_mailbox_) learn_spin(mailbox_->woken_at() - slept_from);
    bump(counters_->iterations);
    fire_timers();
  }

  if (stopping()) stopped_.store(true, std::memory_order_release);
  running_ = false;
  tls_runtime = nullptr;
  log_debug("runtime {}: run returned{}", index(), stopped_.load() ? " (stopped)" : "");
  return {};
}

void RuntimeImpl::hold() noexcept { mailbox_->holds.fetch_add(1, std::memory_order_acq_rel); }

void RuntimeImpl::release() noexcept {
  // The last release wakes the loop so that an idle run() sees it may return.
  if (mailbox_->holds.fetch_sub(1, std::memory_order_acq_rel) == 1) mailbox_->wake();
}

void RuntimeImpl::stop() noexcept {
  // Async-signal-safe with the eventfd wake-up (lock-free atomics, clock_gettime, one
  // write(2)): a SIGINT handler may call it. The sweep happens on the loop thread, before any
  // other outcome is fixed there (see complete()).
  if (mailbox_->stopping.exchange(true, std::memory_order_acq_rel)) return;
  mailbox_->wake();
}

Status RuntimeImpl::post(TaskPtr task) {
  if (!task) return wsa::einval;
  if (stopped_.load(std::memory_order_acquire)) return wsa::enetdown;
  Message m{Message::Kind::post};
  m.task = std::move(task);
  if (!mailbox_->push(std::move(m))) return wsa::enetdown;
  return {};
}

void RuntimeImpl::update_stack_stats() noexcept {
  counters_->stacks_guarded.store(stacks_.guarded(), std::memory_order_relaxed);
  counters_->stacks_unguarded.store(stacks_.unguarded(), std::memory_order_relaxed);
  counters_->stacks_pooled.store(stacks_.pooled(), std::memory_order_relaxed);
  counters_->stack_fallbacks.store(stacks_.fallbacks(), std::memory_order_relaxed);
}

RuntimeStats RuntimeImpl::stats() const noexcept { return stats_of(*counters_); }

}  // namespace weft::detail

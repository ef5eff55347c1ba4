// Test helper: occupies every thread of libuv's thread pool (one per process) until
// destroyed, so that a pool request made meanwhile (a resolve, a file call, an offload) waits
// in the pool's queue.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace weft::test {

// libuv's thread pool is one per process: occupying every thread of it holds a resolve in
// its queue until released, so the deadline surely comes first.
struct PoolBlocker {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  int started = 0;
  uv_loop_t loop{};
  std::vector<uv_work_t> works;

  static std::size_t pool_threads() {
    const char* size = std::getenv("UV_THREADPOOL_SIZE");
    int n = size ? std::atoi(size) : 4;
    return static_cast<std::size_t>(n > 0 ? n : 4);
  }

  // Holds `threads` threads of the pool (all of them by default).
  explicit PoolBlocker(std::size_t threads = pool_threads()) : works(threads) {
    uv_loop_init(&loop);
    for (auto& w : works) {
      w.data = this;
      uv_queue_work(
          &loop, &w,
          [](uv_work_t* req) {
            auto* self = static_cast<PoolBlocker*>(req->data);
            std::unique_lock lock(self->mu);
            ++self->started;
            self->cv.notify_all();
            self->cv.wait(lock, [&] { return self->released; });
          },
          nullptr);
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started == static_cast<int>(works.size()); });
  }
  PoolBlocker(const PoolBlocker&) = delete;
  PoolBlocker& operator=(const PoolBlocker&) = delete;
  ~PoolBlocker() {
    {
      std::lock_guard lock(mu);
      released = true;
    }
    cv.notify_all();
    uv_run(&loop, UV_RUN_DEFAULT);  // collects the finished work
    uv_loop_close(&loop);
  }
};

}  // namespace weft::test

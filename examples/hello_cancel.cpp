// The README's example: a fiber blocked for an hour, cancelled by another fiber.
#include <weft/weft.hpp>

#include <cstdio>

int main() {
  weft::Runtime rt;  // one libuv loop, run on this thread
  (void)rt.spawn([] {
    auto sleeper = weft::spawn([] {
      auto r = weft::this_fiber::sleep_for(std::chrono::hours(1));
      std::printf("sleep: %s\n", r.error().message().c_str());  // WSAEINTR: cancelled
    });
    weft::this_fiber::yield();                   // let it block
    (void)weft::cancel_blocking_call(*sleeper);  // from any fiber or OS thread
    (void)weft::join(*sleeper);
  });
  return rt.run().ok() ? 0 : 1;  // returns when every fiber has ended
}

// A program outside weft's tree: it finds weft through pkg-config or as a meson subproject,
// and proves the library works: a fiber blocked in recv is cancelled by another fiber.
#include <weft/weft.hpp>

#include <cstdio>

int main() {
  weft::Runtime rt;
  int failures = 0;
  (void)rt.spawn([&] {
    auto l = weft::socket(AF_INET, SOCK_STREAM);
    auto c = weft::socket(AF_INET, SOCK_STREAM);
    if (!l.ok() || !c.ok()) {
      ++failures;
      return;
    }
    (void)weft::bind(*l, weft::Address::loopback_v4(0));
    (void)weft::listen(*l, 1);
    (void)weft::connect(*c, *weft::local_address(*l));
    auto a = weft::accept(*l);
    weft::Status got;
    auto reader = weft::spawn([&] {
      char b[8];
      got = weft::recv(*a, b, sizeof b).error();
    });
    weft::this_fiber::yield();
    if (!weft::cancel_blocking_call(*reader).ok()) ++failures;
    (void)weft::join(*reader);
    if (got.error() != weft::wsa::eintr) ++failures;
    for (weft::Socket s : {*a, *c, *l}) (void)weft::close(s);
  });
  (void)rt.run();
  std::printf("consumer: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

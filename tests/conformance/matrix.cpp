// The conformance matrix of the socket calls and the coordination waits (machinery and the
// list of sources: matrix.hpp). Each cell checks the code the call returns and what it leaves
// behind, as the one table says (runtime/cancel_rule.hpp).
#include "matrix.hpp"

#include <csignal>

namespace weft::matrix {
namespace {

// The peer reads everything and sees the stream end in an RST.
void expect_peer_sees_reset(const Cell& c) {
  test::PeerView v = test::posix_read_to_end(c.conn.peer.get());
  EXPECT_EQ(v.error, ECONNRESET) << "eof=" << v.eof << " timed_out=" << v.timed_out;
}

// The peer reads `n` bytes of what was queued, then sees an orderly end of stream.
void expect_peer_sees_everything_then_eof(const Cell& c, std::size_t n) {
  test::PeerView v = test::posix_read_to_end(c.conn.peer.get());
  EXPECT_EQ(v.data.size(), n);
  EXPECT_TRUE(v.eof) << "error=" << v.error << " timed_out=" << v.timed_out;
}

// A stream socket the table left unchanged still carries data both ways, in order.
void expect_stream_intact(Cell& c) {
  test::posix_send_all(c.conn.peer.get(), "z");
  auto n = recv(c.s, c.buf, sizeof c.buf);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(std::string(c.buf, *n), "z");
}

// A stream socket the table reset: every call but close fails WSAECONNABORTED.
void expect_reset(Cell& c) {
  EXPECT_EQ(recv(c.s, c.buf, sizeof c.buf).error(), wsa::econnaborted);
  EXPECT_EQ(send(c.s, "x", 1).error(), wsa::econnaborted);
  expect_peer_sees_reset(c);
}

void connect_pair(Cell& c) {
  c.conn = test::connect_to_posix_peer();
  c.s = c.conn.s;
}

// After a close by another fiber: the handle is dead, and the peer saw what the table says.
void expect_closed(Cell& c) { EXPECT_EQ(recv(c.s, c.buf, 1, MSG_DONTWAIT).error(), wsa::enotsock); }

std::vector<Kind> kinds() {
  std::vector<Kind> k;
  k.push_back({"Accept", true,
               [](Cell& c) {
                 c.s = *socket(AF_INET, SOCK_STREAM);
                 ASSERT_TRUE(bind(c.s, Address::loopback_v4(0)).ok());
                 ASSERT_TRUE(listen(c.s, 8).ok());
                 c.addr = *local_address(c.s);
               },
               [](Cell& c, const CancelToken& t) { return accept(c.s, nullptr, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 // Unchanged in both modes: still listening.
                 Fd client = test::posix_connect(c.addr);
                 auto a = accept(c.s);
                 ASSERT_TRUE(a.ok()) << a.error().message();
                 EXPECT_TRUE(close(*a).ok());
                 EXPECT_TRUE(close(c.s).ok());
               }});
  k.push_back({"Connect", true,
               [](Cell& c) {
                 // A listener whose accept queue is full drops further SYNs, so a connect to it
                 // stays under way. (Backlog 0 admits one queued connection: the filler.)
                 c.posix = test::posix_listener(c.addr, AF_INET, 0);
                 c.filler = test::posix_connect(c.addr);
                 c.s = *socket(AF_INET, SOCK_STREAM);
               },
               [](Cell& c, const CancelToken& t) { return connect(c.s, c.addr, 0ms, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 // Aborted in both modes; the reaper holds the kernel socket.
                 EXPECT_EQ(send(c.s, "x", 1).error(), wsa::econnaborted);
                 EXPECT_EQ(connect(c.s, c.addr).error(), wsa::econnaborted);
                 EXPECT_TRUE(close(c.s).ok());
               }});
  k.push_back(
      {"Recv", true, connect_pair,
       [](Cell& c, const CancelToken& t) { return recv(c.s, c.buf, sizeof c.buf, 0, t).error(); },
       [](Cell& c) {
         if (c.source == Source::close) {
           expect_closed(c);
           // Nothing had moved: precise mode ends the stream gracefully.
           if (c.portable) return expect_peer_sees_reset(c);
           return expect_peer_sees_everything_then_eof(c, 0);
         }
         if (c.portable) return expect_reset(c);
         expect_stream_intact(c);
       }});
  k.push_back({"RecvFrom", true,
               [](Cell& c) {
                 c.s = *socket(AF_INET, SOCK_DGRAM);
                 ASSERT_TRUE(bind(c.s, Address::loopback_v4(0)).ok());
                 c.addr = *local_address(c.s);
                 c.posix = Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
               },
               [](Cell& c, const CancelToken& t) {
                 return recv_from(c.s, c.buf, sizeof c.buf, nullptr, 0, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 // A datagram socket is unchanged in both modes.
                 ASSERT_EQ(::sendto(c.posix.get(), "d", 1, 0, c.addr.data(), c.addr.size()), 1);
                 auto n = recv_from(c.s, c.buf, sizeof c.buf, nullptr);
                 ASSERT_TRUE(n.ok()) << n.error().message();
                 EXPECT_EQ(*n, 1u);
                 EXPECT_TRUE(close(c.s).ok());
               }});
  k.push_back({"SendNothingMoved", true,
               [](Cell& c) {
                 connect_small_pair(c);
                 c.queued = test::fill_send_buffer(c.s);
               },
               [](Cell& c, const CancelToken& t) { return send(c.s, "y", 1, 0, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) {
                   expect_closed(c);
                   if (c.portable) return expect_peer_sees_reset(c);
                   return expect_peer_sees_everything_then_eof(c, c.queued);
                 }
                 if (c.portable) return expect_reset(c);
                 // Unchanged: the peer reads what was queued, then what is sent after.
                 EXPECT_EQ(test::posix_read_n(c.conn.peer.get(), c.queued).size(), c.queued);
                 ASSERT_TRUE(send(c.s, "y", 1).ok());
                 EXPECT_EQ(test::posix_read_n(c.conn.peer.get(), 1), "y");
               }});
  k.push_back({"SendSomeMoved", true,
               [](Cell& c) {
                 connect_small_pair(c);
                 c.big.assign(1 << 20, 'b');  // more than the kernel takes at once
               },
               [](Cell& c, const CancelToken& t) {
                 return send(c.s, c.big.data(), c.big.size(), 0, t).error();
               },
               [](Cell& c) {
                 // Reset in both modes, whoever ended the send: the peer must not take the
                 // cut-off stream for a whole one.
                 if (c.source == Source::close) {
                   expect_closed(c);
                   return expect_peer_sees_reset(c);
                 }
                 expect_reset(c);
               }});
  k.push_back({"RecvExactAfterSomeBytes", true,
               [](Cell& c) {
                 connect_pair(c);
                 test::posix_send_all(c.conn.peer.get(), "abc");
               },
               [](Cell& c, const CancelToken& t) { return recv_exact(c.s, c.buf, 10, t).error(); },
               [](Cell& c) {
                 if (c.source == Source::close) {
                   expect_closed(c);
                   return expect_peer_sees_reset(c);
                 }
                 expect_reset(c);  // the bytes taken cannot be handed back
               }});
  k.push_back({"Poll", true, connect_pair,
               [](Cell& c, const CancelToken& t) {
                 PollEntry e{c.s, kPollIn};
                 return poll({&e, 1}, std::nullopt, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 expect_stream_intact(c);  // unchanged in both modes
               }});
  k.push_back({"Select", true, connect_pair,
               [](Cell& c, const CancelToken& t) {
                 SocketSet read;
                 read.add(c.s);
                 return select(&read, nullptr, nullptr, std::nullopt, t).error();
               },
               [](Cell& c) {
                 if (c.source == Source::close) return expect_closed(c);
                 expect_stream_intact(c);
               }});
  k.push_back({"CloseLingering", false,
               [](Cell& c) {
                 connect_small_pair(c);
                 c.queued = test::fill_send_buffer(c.s);
                 ASSERT_TRUE(set_linger(c.s, 30s).ok());
               },
               [](Cell& c, const CancelToken& t) { return close(c.s, t).error(); },
               [](Cell& c) {
                 // Linger expiry in both modes: reset; the handle stays valid until closed.
                 EXPECT_EQ(recv(c.s, c.buf, 1).error(), wsa::econnaborted);
                 EXPECT_TRUE(close(c.s).ok());
                 expect_peer_sees_reset(c);
               }});
  k.push_back({"Sleep", false, [](Cell&) {},
               [](Cell&, const CancelToken& t) { return this_fiber::sleep_for(1h, t).error(); },
               [](Cell&) {}});
  k.push_back({"SignalWait", false, [](Cell&) {},
               [](Cell&, const CancelToken& t) { return signal_wait(SIGUSR2, t).error(); },
               [](Cell&) {}});
  k.push_back({"SignalWatchWait", false,
               [](Cell& c) {
                 auto w = SignalWatch::start(SIGUSR2);
                 ASSERT_TRUE(w.ok()) << w.error().message();
                 c.extra = std::make_shared<SignalWatch>(std::move(*w));
               },
               [](Cell& c, const CancelToken& t) {
                 return static_cast<SignalWatch*>(c.extra.get())->wait(t).error();
               },
               [](Cell& c) {
                 // The watch goes on watching: a delivery after the cancel is the next wait's.
                 auto* w = static_cast<SignalWatch*>(c.extra.get());
                 ASSERT_EQ(::raise(SIGUSR2), 0);
                 auto n = w->wait();
                 ASSERT_TRUE(n.ok()) << n.error().message();
                 EXPECT_GE(*n, 1u);
               }});
  k.push_back({"Join", false,
               [](Cell& c) { c.other = *spawn([] { (void)this_fiber::sleep_for(1h); }); },
               [](Cell& c, const CancelToken& t) { return join(c.other, t).error(); },
               [](Cell& c) {
                 // The joined fiber runs on; join may be called again.
                 ASSERT_TRUE(cancel_blocking_call(c.other).ok());
                 EXPECT_TRUE(join(c.other).ok());
               }});
  k.push_back({"JoinAcrossRuntimes", false,
               [](Cell& c) {
                 c.remote = std::make_unique<Runtime>();
                 CancelToken end = c.remote_end.token();
                 c.other = *c.remote->spawn([end] { (void)this_fiber::sleep_for(1h, end); });
                 Runtime* other = c.remote.get();
                 c.runner = std::make_unique<std::thread>([other] { (void)other->run(); });
               },
               [](Cell& c, const CancelToken& t) { return join(c.other, t).error(); },
               [](Cell& c) {
                 // The fiber of the other runtime runs on; a join then sees its end.
                 c.remote_end.cancel();
                 EXPECT_TRUE(join(c.other).ok());
               },
               [](Cell& c) {
                 c.remote_end.cancel();
                 c.runner->join();
               }});
  k.push_back({"Resolve", false, [](Cell& c) { c.pool = std::make_unique<test::PoolBlocker>(); },
               [](Cell&, const CancelToken& t) {
                 return resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM, t).error();
               },
               [](Cell& c) {
                 // The queued request was cancelled; the resolver works on.
                 c.pool.reset();
                 auto r = resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM);
                 ASSERT_TRUE(r.ok()) << r.error().message();
                 EXPECT_FALSE(r->empty());
               },
               [](Cell& c) { c.pool.reset(); }});
  // The coordination primitives (semantics.md §8): a cancelled wait leaves the primitive as if
  // it had never been called, whoever cancelled it, in both modes.
  k.push_back({"MutexLock", false, [](Cell& c) { ASSERT_TRUE(c.p->mutex.lock().ok()); },
               [](Cell& c, const CancelToken& t) { return c.p->mutex.lock(t).error(); },
               [](Cell& c) {
                 // Still the preparer's, and free once it unlocks: the waiter took nothing.
                 EXPECT_TRUE(c.p->mutex.unlock().ok());
                 EXPECT_TRUE(c.p->mutex.try_lock());
                 EXPECT_TRUE(c.p->mutex.unlock().ok());
               }});
  k.push_back({"ConditionVariableWait", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) {
                 EXPECT_TRUE(c.p->mutex.lock().ok());
                 Status st = c.p->cv.wait(c.p->mutex, t);
                 c.p->held_after = c.p->mutex.unlock().ok();  // held again on every return
                 return st.error();
               },
               [](Cell& c) {
                 EXPECT_TRUE(c.p->held_after);
                 EXPECT_TRUE(c.p->mutex.try_lock());
                 EXPECT_TRUE(c.p->mutex.unlock().ok());
               }});
  k.push_back({"SemaphoreAcquire", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) { return c.p->semaphore.acquire(t).error(); },
               [](Cell& c) {
                 c.p->semaphore.release();
                 EXPECT_EQ(c.p->semaphore.available(), 1u);  // nobody took the permit
               }});
  k.push_back({"EventWait", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) { return c.p->event.wait(t).error(); },
               [](Cell& c) {
                 c.p->event.set();
                 EXPECT_TRUE(c.p->event.is_set());  // set for nobody else: it stays set
               }});
  k.push_back({"LatchWait", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) { return c.p->latch.wait(t).error(); },
               [](Cell& c) {
                 EXPECT_FALSE(c.p->latch.try_wait());
                 c.p->latch.count_down();
                 EXPECT_TRUE(c.p->latch.try_wait());
               }});
  k.push_back({"ChannelSend", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) {
                 return c.p->channel.send(std::move(c.p->value), t).error();
               },
               [](Cell& c) {
                 EXPECT_EQ(c.p->value, "kept");  // still the caller's, unchanged
                 EXPECT_EQ(c.p->channel.try_recv().error(), wsa::ewouldblock);
               }});
  k.push_back({"ChannelRecv", false, [](Cell&) {},
               [](Cell& c, const CancelToken& t) { return c.p->channel.recv(t).error(); },
               [](Cell& c) {
                 // No receiver is left waiting: a value now has nobody to go to.
                 EXPECT_EQ(c.p->channel.try_send("x").error(), wsa::ewouldblock);
               }});
  k.push_back(
      {"WaitAny", false, [](Cell&) {},
       [](Cell& c, const CancelToken& t) {
         return wait_any({on_recv(c.p->channel, c.p->out), on_acquire(c.p->semaphore)}, t).error();
       },
       [](Cell& c) {
         EXPECT_FALSE(c.p->out);
         EXPECT_EQ(c.p->channel.try_send("x").error(), wsa::ewouldblock);
         c.p->semaphore.release();
         EXPECT_EQ(c.p->semaphore.available(), 1u);
       }});
  // The C adapter's event wait (docs/wsp.md, "Events"): a C call takes no token, so the token
  // sources reach it through a scope on the token, as they reach any call made in one.
  k.push_back(
      {"WsaWaitForMultipleEvents", false,
       [](Cell& c) {
         int err = 0;
         for (WEFT_EVENT& e : c.p->wsa_events) {
           e = WSACreateEvent(&err);
           ASSERT_NE(e, WSA_INVALID_EVENT) << err;
         }
       },
       [](Cell& c, const CancelToken& t) {
         CancelScope scope(t);
         int err = 0;
         unsigned r = WSAWaitForMultipleEvents(2, c.p->wsa_events, 0, WSA_INFINITE, &err);
         if (r != WSA_WAIT_FAILED) return std::error_code();
         return std::error_code(err, wsa_category());
       },
       [](Cell& c) {
         // Both events as they were: not signalled, and a set is seen.
         int err = 0;
         EXPECT_EQ(WSAWaitForMultipleEvents(2, c.p->wsa_events, 0, 0, &err), WSA_WAIT_TIMEOUT);
         EXPECT_EQ(WSASetEvent(c.p->wsa_events[1], &err), 0);
         EXPECT_EQ(WSAWaitForMultipleEvents(2, c.p->wsa_events, 0, 0, &err), WSA_WAIT_EVENT_0 + 1);
       },
       [](Cell& c) {
         int err = 0;
         for (WEFT_EVENT e : c.p->wsa_events) (void)WSACloseEvent(e, &err);
       }});
  return k;
}

}  // namespace

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k = kinds();
  return k;
}

INSTANTIATE_TEST_SUITE_P(EveryCallEverySource, Matrix, testing::ValuesIn(all_params()), param_name);

}  // namespace weft::matrix

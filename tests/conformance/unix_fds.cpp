// Unix-domain sockets (semantics.md §10): descriptors passed both ways (SCM_RIGHTS) and the
// peer's credentials, against Python's socket module (tests/support/unix_peer.py) and plain
// POSIX sockets. The sockets themselves are in unix.cpp, what a cancel leaves on them in
// unix_cancel.cpp.
#include "../support/process.hpp"
#include "../support/run.hpp"
#include "../support/unix.hpp"

#include <weft/weft.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace weft;
using namespace weft::test;

TEST(UnixFdPassing, APipePassedToPythonCarriesData) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(Space::filesystem, "pass");
  run_in_fiber([&] {
    auto py = python_peer({"server", "stream", name.py});
    ASSERT_EQ(py->line(), "ready");
    auto s = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(connect(*s, name.address()));
    ASSERT_EQ(py->line(), "accepted");
    {
      // The read end goes to Python; this side writes into the pipe and closes it.
      Pipe pipe;
      const int fds[] = {pipe.r.get()};
      EXPECT_EQ(send_fds(*s, "F", 1, fds).value_or(0), 1u);
      pipe.r.reset();
      ASSERT_EQ(::write(pipe.w.get(), "from-weft", 9), 9);
      pipe.w.reset();
      EXPECT_EQ(cmd(*py, "recv_fd_read 64"), "ok F 1 from-weft");
    }
    {
      // The write end goes to Python, which writes into it.
      Pipe pipe;
      const int fds[] = {pipe.w.get()};
      EXPECT_EQ(send_fds(*s, "W", 1, fds).value_or(0), 1u);
      pipe.w.reset();
      EXPECT_EQ(cmd(*py, "recv_fd_write 64 through-python"), "ok W 1");
      EXPECT_EQ(read_to_end(pipe.r.get()), "through-python");
    }
    EXPECT_TRUE(close(*s).ok());
  });
}

TEST(UnixFdPassing, APipePassedByPythonCarriesData) {
  SKIP_WITHOUT_PYTHON();
  const Name name = fresh_name(Space::abstract, "pass");
  run_in_fiber([&] {
    auto l = socket(AF_UNIX, SOCK_STREAM);
    ASSERT_OK(bind(*l, name.address()));
    ASSERT_OK(listen(*l, 8));
    auto py = python_peer({"client", "stream", name.py});
    ASSERT_EQ(py->line().rfind("connected ", 0), 0u);
    auto a = accept(*l);
    ASSERT_OK(a);
    EXPECT_EQ(cmd(*py, "send_pipe F from-python"), "ok");
    char b[8];
    std::vector<int> fds = {-7};  // appended to, never replaced
    auto n = recv_fds(*a, b, sizeof b, fds);
    ASSERT_OK(n);
    EXPECT_EQ(std::string(b, *n), "F");
    ASSERT_EQ(fds.size(), 2u);
    EXPECT_EQ(fds[0], -7);
    Fd passed(fds[1]);
    EXPECT_TRUE(close_on_exec(passed.get()));
    EXPECT_EQ(read_to_end(passed.get()), "from-python");
    EXPECT_TRUE(close(*a).ok());
    EXPECT_TRUE(close(*l).ok());
  });
}

TEST(UnixFdPassing, TheMostDescriptorsOneMessageMayCarryAndNoneLeaks) {
  run_in_fiber([] {
    const int before = test::open_descriptors();
    {
      auto [a, b] = *socketpair(SOCK_STREAM);
      Pipe pipe;
      std::vector<int> many(kMaxPassedDescriptors, pipe.r.get());  // each entry a copy
      EXPECT_EQ(send_fds(a, "M", 1, many).value_or(0), 1u);
      std::vector<int> got;
      char c;
      EXPECT_EQ(recv_fds(b, &c, 1, got).value_or(0), 1u);
      ASSERT_EQ(got.size(), kMaxPassedDescriptors);
      ASSERT_EQ(::write(pipe.w.get(), "z", 1), 1);
      char z = 0;
      EXPECT_EQ(::read(got.back(), &z, 1), 1);  // any copy reads the pipe
      EXPECT_EQ(z, 'z');
      for (int fd : got) {
        EXPECT_TRUE(close_on_exec(fd));
        ::close(fd);
      }
      many.push_back(pipe.r.get());
      EXPECT_EQ(send_fds(a, "M", 1, many).error(), wsa::einval);  // 254
      EXPECT_TRUE(close(a).ok());
      EXPECT_TRUE(close(b).ok());
    }
    EXPECT_EQ(test::open_descriptors(), before);
  });
}

TEST(UnixFdPassing, ADatagramCarriesDescriptorsWithoutABytePassedToAllOfThem) {
  run_in_fiber([] {
    auto [a, b] = *socketpair(SOCK_DGRAM);
    Pipe pipe;
    const int fds[] = {pipe.r.get(), pipe.w.get()};
    EXPECT_EQ(send_fds(a, nullptr, 0, fds).value_or(99), 0u);
    char c;
    std::vector<int> got;
    EXPECT_EQ(recv_fds(b, &c, 1, got).value_or(99), 0u);
    ASSERT_EQ(got.size(), 2u);
    Fd r(got[0]), w(got[1]);
    ASSERT_EQ(::write(w.get(), "q", 1), 1);
    EXPECT_EQ(::read(r.get(), &c, 1), 1);
    EXPECT_EQ(c, 'q');
    // A message larger than the buffer: WSAEMSGSIZE, and its descriptors are the caller's.
    const int one[] = {pipe.r.get()};
    EXPECT_EQ(send_fds(a, "long", 4, one).value_or(0), 4u);
    got.clear();
    EXPECT_EQ(recv_fds(b, &c, 1, got).error(), wsa::emsgsize);
    ASSERT_EQ(got.size(), 1u);
    ::close(got[0]);
    EXPECT_TRUE(close(a).ok());
    EXPECT_TRUE(close(b).ok());
  });
}

TEST(UnixFdPassing, BadArgumentsAreRefusedBeforeAnythingMoves) {
  run_in_fiber([] {
    auto [a, b] = *socketpair(SOCK_STREAM);
    Pipe pipe;
    const int negative[] = {pipe.r.get(), -1};
    EXPECT_EQ(send_fds(a, "x", 1, negative).error(), wsa::einval);
    int closed = ::dup(pipe.r.get());
    ::close(closed);
    const int not_open[] = {closed};
    EXPECT_EQ(send_fds(a, "x", 1, not_open).error(), wsa::einval);
    const int one[] = {pipe.r.get()};
    EXPECT_EQ(send_fds(a, nullptr, 0, one).error(), wsa::einval);  // a stream needs a byte
    EXPECT_EQ(send_fds(a, nullptr, 1, one).error(), wsa::efault);
    std::vector<int> got;
    EXPECT_EQ(recv_fds(b, nullptr, 1, got).error(), wsa::efault);
    EXPECT_EQ(send_fds(Socket::invalid, "x", 1, one).error(), wsa::enotsock);
    // Nothing moved: the peer has nothing to read.
    char c;
    EXPECT_EQ(recv(b, &c, 1, MSG_DONTWAIT).error(), wsa::ewouldblock);
    // Not a Unix-domain socket.
    test::PeerConnection tcp = test::connect_to_posix_peer();
    EXPECT_EQ(send_fds(tcp.s, "x", 1, one).error(), wsa::eopnotsupp);
    EXPECT_EQ(recv_fds(tcp.s, &c, 1, got).error(), wsa::eopnotsupp);
    EXPECT_EQ(peer_credentials(tcp.s).error(), wsa::eopnotsupp);
    EXPECT_TRUE(close(tcp.s).ok());
    // Not connected.
    auto lone = socket(AF_UNIX, SOCK_STREAM);
    EXPECT_EQ(send_fds(*lone, "x", 1, one).error(), wsa::enotconn);
    EXPECT_EQ(recv_fds(*lone, &c, 1, got).error(), wsa::enotconn);
    EXPECT_EQ(peer_credentials(*lone).error(), wsa::enotconn);
    EXPECT_TRUE(close(*lone).ok());
    EXPECT_TRUE(close(a).ok());
    EXPECT_TRUE(close(b).ok());
  });
}

TEST(UnixCredentials, ADatagramSocketConnectedWithConnectHasNone) {
  run_in_fiber([] {
    const Name name = fresh_name(Space::abstract, "cred");
    auto server = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(bind(*server, name.address()));
    auto client = socket(AF_UNIX, SOCK_DGRAM);
    ASSERT_OK(connect(*client, name.address()));
    EXPECT_EQ(peer_credentials(*client).error(), wsa::enotconn);
    EXPECT_EQ(peer_credentials(*server).error(), wsa::enotconn);
    EXPECT_TRUE(close(*client).ok());
    EXPECT_TRUE(close(*server).ok());
  });
}

}  // namespace

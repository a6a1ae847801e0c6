// Self-test of the test origin, through a raw socket client so that it does not depend on
// the fetcher it is used to test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/test_origin.hpp"

using imgbatch::test_support::TestOrigin;

namespace {

struct Response {
  int status = 0;
  std::string head;
  std::string body;
};

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

void send_request(int fd, const std::string& path, bool close) {
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: test\r\n" +
                              (close ? "Connection: close\r\n" : "") + "\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
}

// Reads one response with a Content-Length body (or to EOF without one).
Response read_response(int fd) {
  Response r;
  std::string data;
  char buf[65536];
  std::size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return r;
    data.append(buf, static_cast<std::size_t>(n));
  }
  r.head = data.substr(0, head_end);
  r.status = std::stoi(r.head.substr(9, 3));
  data.erase(0, head_end + 4);
  const auto cl = r.head.find("Content-Length: ");
  if (cl == std::string::npos) {
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    r.body = data;
    return r;
  }
  const auto length = std::stoull(r.head.substr(cl + 16));
  while (data.size() < length) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  r.body = data;
  return r;
}

Response get(const TestOrigin& origin, const std::string& path) {
  const int fd = connect_to(origin.port());
  send_request(fd, path, true);
  Response r = read_response(fd);
  ::close(fd);
  return r;
}

std::string file_content(const std::string& name) {
  std::ifstream in(TestOrigin::photos_dir() / name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(TestOrigin, ServesPhotosWithTheirTypeAndIgnoresTheQuery) {
  TestOrigin origin;
  const Response r = get(origin, "/photos/Aqua.jpg?v=3");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: image/jpeg"), std::string::npos);
  EXPECT_EQ(r.body, file_content("Aqua.jpg"));
  get(origin, "/photos/Aqua.jpg?v=4");
  EXPECT_EQ(origin.request_count("/photos/Aqua.jpg"), 2u);
  EXPECT_EQ(get(origin, "/photos/nope.jpg").status, 404);
  EXPECT_EQ(get(origin, "/photos/../photos/Aqua.jpg").status, 404);
}

TEST(TestOrigin, KeepsConnectionsAlive) {
  TestOrigin origin;
  const int fd = connect_to(origin.port());
  send_request(fd, "/photos/Dune.jpg", false);
  EXPECT_EQ(read_response(fd).status, 200);
  send_request(fd, "/status/404", false);
  EXPECT_EQ(read_response(fd).status, 404);
  ::close(fd);
  EXPECT_EQ(origin.connections_accepted(), 1u);
  EXPECT_EQ(origin.total_requests(), 2u);
}

TEST(TestOrigin, FaultRoutesMisbehaveAsDescribed) {
  TestOrigin origin;
  EXPECT_EQ(get(origin, "/status/418").status, 418);
  EXPECT_EQ(get(origin, "/flaky/2/Aqua.jpg").status, 500);
  EXPECT_EQ(get(origin, "/flaky/2/Aqua.jpg").status, 500);
  EXPECT_EQ(get(origin, "/flaky/2/Aqua.jpg").status, 200);

  const Response later =
      get(origin, "/retry-after/Wed,%2021%20Oct%202015%2007:28:00%20GMT/Aqua.jpg");
  EXPECT_EQ(later.status, 503);
  EXPECT_NE(later.head.find("Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"), std::string::npos);

  const Response hop = get(origin, "/redirect/2/Aqua.jpg");
  EXPECT_EQ(hop.status, 302);
  EXPECT_NE(hop.head.find("Location: /redirect/1/Aqua.jpg"), std::string::npos);
  EXPECT_NE(get(origin, "/redirect/1/Aqua.jpg").head.find("Location: /photos/Aqua.jpg"),
            std::string::npos);
  EXPECT_NE(get(origin, "/redirect-to?url=http%3A%2F%2F127.0.0.1%3A1%2Fx")
                .head.find("Location: http://127.0.0.1:1/x"),
            std::string::npos);

  const Response cut = get(origin, "/short/Aqua.jpg");
  EXPECT_EQ(cut.body.size(), file_content("Aqua.jpg").size() / 2);

  const Response random = get(origin, "/random");
  EXPECT_EQ(random.body.size(), 65536u);
  EXPECT_NE(random.head.find("image/jpeg"), std::string::npos);
  EXPECT_NE(get(origin, "/html").body.find("<html>"), std::string::npos);
}

// Two held requests: they overlap however late the second thread gets going (two 500 ms
// sleeps would not, had it started half a second late). Read before /release, which is
// a request of its own.
TEST(TestOrigin, MeasuresOverlappingRequests) {
  TestOrigin origin;
  std::thread a([&] { get(origin, "/hold/Aqua.jpg"); });
  std::thread b([&] { get(origin, "/hold/Aqua.jpg"); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (origin.max_concurrent_requests() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto while_held = origin.max_concurrent_requests();
  EXPECT_EQ(get(origin, "/release").status, 200);
  a.join();
  b.join();
  EXPECT_EQ(while_held, 2u);
  EXPECT_EQ(origin.request_count("/hold/Aqua.jpg"), 2u);
  get(origin, "/photos/Aqua.jpg");
  origin.reset_stats();
  EXPECT_EQ(origin.total_requests(), 0u);
  EXPECT_EQ(origin.max_concurrent_requests(), 0u);
}

TEST(TestOrigin, HeldRequestsAnswerOnlyAfterRelease) {
  TestOrigin origin;
  std::atomic<bool> answered{false};
  Response held;
  std::thread waiter([&] {
    held = get(origin, "/hold/Aqua.jpg");
    answered = true;
  });
  while (origin.request_count("/hold/Aqua.jpg") < 1)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(answered) << "a held request was answered before /release";
  EXPECT_EQ(get(origin, "/release").status, 200);
  waiter.join();
  EXPECT_EQ(held.body, file_content("Aqua.jpg"));
  // Once released, later holds pass straight through.
  EXPECT_EQ(get(origin, "/hold/Aqua.jpg").body, file_content("Aqua.jpg"));
}

TEST(TestOrigin, ShutsDownWhileClientsWaitOrDownloadForever) {
  const auto started = std::chrono::steady_clock::now();
  int sleeping = -1;
  int huge = -1;
  {
    TestOrigin origin;
    sleeping = connect_to(origin.port());
    send_request(sleeping, "/sleep/60000/Aqua.jpg", false);
    huge = connect_to(origin.port());
    send_request(huge, "/huge", false);
    char buf[1024];
    ASSERT_GT(::recv(huge, buf, sizeof buf, 0), 0);  // streaming has begun
    while (origin.total_requests() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  ::close(sleeping);
  ::close(huge);
}

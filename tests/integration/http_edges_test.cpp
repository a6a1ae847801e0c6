// The HTTP edges (issue 12, item 6) on a raw socket, so that the exact bytes show: HEAD on
// every GET route, a 304 without Content-Length, Expect: 100-continue answered, and a body
// over --max-upload-bytes answered 413 problem+json before it is read, at any size, with
// Content-Length or chunked, never a dropped connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "http/server.hpp"
#include "request_scanner.hpp"
#include "store/store.hpp"
#include "support/blob_options.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace imgbatch {
namespace {

using Clock = std::chrono::steady_clock;

struct RawResponse {
  int status = 0;  // 0: none (the connection closed or the time ran out first)
  std::string head;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) > 0; }
};

// One TCP connection to the server, read with a deadline.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // False once the server no longer takes bytes (it closed, after answering).
  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }

  // The next response; a HEAD's has no body whatever its Content-Length says.
  RawResponse read_response(bool head_request = false,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    RawResponse r;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(deadline)) return r;
    r.head = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    r.status = std::atoi(r.head.substr(9, 3).c_str());
    std::size_t pos = r.head.find("\r\n") + 2;
    while (pos < r.head.size() - 2) {
      const auto eol = r.head.find("\r\n", pos);
      const auto line = r.head.substr(pos, eol - pos);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      pos = eol + 2;
    }
    if (head_request || r.status / 100 == 1 || r.status == 204 || r.status == 304) return r;
    const auto length = static_cast<std::size_t>(std::stoull(r.headers.at("content-length")));
    while (buffer_.size() < length)
      if (!fill(deadline)) return RawResponse{};
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // True when the server closed the connection and sent nothing more.
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_ && buffer_.empty();
  }

  const std::string& unread() const { return buffer_; }

 private:
  bool fill(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

std::string request(std::string_view method, std::string_view target,
                    std::string_view extra_headers = "") {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string upload_body() {
  return test_support::form_body({{"file",
                                   "S. No.,Product Name,Input Image Urls\n"
                                   "1,SKU1,https://img.example/a.jpg\n",
                                   "products.csv", "text/csv"}});
}

std::string upload_head(std::size_t length, bool expect, bool chunked = false) {
  return "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: " +
         test_support::form_content_type() + "\r\n" +
         (chunked ? std::string("Transfer-Encoding: chunked\r\n")
                  : "Content-Length: " + std::to_string(length) + "\r\n") +
         (expect ? "Expect: 100-continue\r\n" : "") + "\r\n";
}

void expect_problem_413(const RawResponse& r, std::int64_t limit) {
  ASSERT_EQ(r.status, 413) << r.head;
  EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "",
            "application/problem+json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body.value("status", 0), 413);
  EXPECT_NE(body.value("detail", "").find(std::to_string(limit)), std::string::npos) << r.body;
}

class HttpEdgesTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kLimit = 64 * 1024;

  void SetUp() override {
    config_.listen = "127.0.0.1:0";
    config_.public_url = "http://files.example";
    config_.max_upload_bytes = kLimit;
    store_ = store::open_store("sqlite:" + (dir_ / "imgbatch.db"));
    blob_ = blob::open_blob_store("file:" + (dir_ / "images"), test_support::blob_options(false));
    server_ = std::make_unique<http::Server>(config_, *store_, *blob_);
    server_->start();
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override { server_->stop(); }

  std::uint16_t port() const { return server_->port(); }

  // Sends a body of `size` bytes (chunked in 16 KiB chunks, or with its length) while the
  // answer is read, as a client that does not wait for one would.
  RawResponse send_oversized(std::size_t size, bool chunked, bool expect) {
    RawConnection c(port());
    EXPECT_TRUE(c.connected());
    c.send_all(upload_head(size, expect, chunked));
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      const std::string piece(16 * 1024, 'x');
      std::string chunk = chunked ? "4000\r\n" + piece + "\r\n" : piece;
      for (std::size_t sent = 0; sent < size && !stop; sent += piece.size())
        if (!c.send_all(chunk)) break;
      if (chunked) c.send_all("0\r\n\r\n");
      c.finish_sending();
    });
    // A chunked body's size is unknown up front: it gets its 100 Continue, then the 413.
    auto r = c.read_response();
    if (chunked && expect && r.status == 100) r = c.read_response();
    stop = true;
    sender.join();
    EXPECT_EQ(r.headers.count("connection") ? r.headers.at("connection") : "", "close");
    return r;
  }

  test_support::TempDir dir_;
  core::Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<blob::BlobStore> blob_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(HttpEdgesTest, HeadOnEveryGetRouteIsTheGetWithoutItsBody) {
  const auto id = test_support::HttpClient("http://127.0.0.1:" + std::to_string(port()))
                      .post("/upload", upload_body(), test_support::form_content_type())
                      .json()
                      .value("request_id", "");
  ASSERT_FALSE(id.empty());
  for (const std::string& target : std::vector<std::string>{
           "/", "/web/app.js", "/web/style.css", "/openapi.yaml", "/health", "/requests",
           "/status?request_id=" + id, "/requests/" + id + "/output.csv",
           "/images/" + id + "/missing.jpg", "/webhook/events"}) {
    SCOPED_TRACE(target);
    RawConnection c(port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send_all(request("GET", target)));
    const auto get = c.read_response();
    ASSERT_NE(get.status, 0);
    ASSERT_TRUE(c.send_all(request("HEAD", target)));
    const auto head = c.read_response(true);
    EXPECT_EQ(head.status, get.status);
    auto without_date = [](std::map<std::string, std::string> h) {
      h.erase("date");
      h.erase("x-request-id");
      return h;
    };
    EXPECT_EQ(without_date(head.headers), without_date(get.headers));
    EXPECT_EQ(head.headers.at("content-length"), std::to_string(get.body.size()));
    // No body came after the HEAD's headers: the next answer on the connection is clean.
    ASSERT_TRUE(c.send_all(request("GET", "/health")));
    EXPECT_EQ(c.read_response().status, 200) << c.unread();
  }
}

TEST_F(HttpEdgesTest, HeadWhereOnlyPostIsAllowedIs405) {
  RawConnection c(port());
  ASSERT_TRUE(c.send_all(request("HEAD", "/upload")));
  const auto r = c.read_response(true);
  EXPECT_EQ(r.status, 405);
}

TEST_F(HttpEdgesTest, NotModifiedHasNoContentLength) {
  RawConnection c(port());
  ASSERT_TRUE(c.send_all(request("GET", "/openapi.yaml")));
  const auto first = c.read_response();
  ASSERT_EQ(first.status, 200);
  const auto etag = first.headers.at("etag");
  ASSERT_TRUE(c.send_all(request("GET", "/openapi.yaml", "If-None-Match: " + etag + "\r\n")));
  const auto again = c.read_response();
  EXPECT_EQ(again.status, 304) << again.head;
  EXPECT_FALSE(again.has("content-length")) << again.head;
  EXPECT_EQ(again.headers.at("etag"), etag);
  // Still keep-alive, and nothing stray after the 304.
  ASSERT_TRUE(c.send_all(request("GET", "/health")));
  EXPECT_EQ(c.read_response().status, 200) << c.unread();
}

TEST_F(HttpEdgesTest, ExpectContinueWithinTheLimitGets100ThenTheAnswer) {
  RawConnection c(port());
  const auto body = upload_body();
  ASSERT_TRUE(c.send_all(upload_head(body.size(), true)));
  const auto interim = c.read_response(false);
  ASSERT_EQ(interim.status, 100) << interim.head;
  ASSERT_TRUE(c.send_all(body));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 202) << r.body;
  // The connection is kept alive for the next request.
  ASSERT_TRUE(c.send_all(request("GET", "/health")));
  EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(HttpEdgesTest, ChunkedUploadWithinTheLimitIsAcceptedAndTheConnectionKept) {
  RawConnection c(port());
  const auto body = upload_body();
  char size[32];
  std::snprintf(size, sizeof size, "%zx", body.size());
  ASSERT_TRUE(c.send_all(upload_head(0, true, true)));
  ASSERT_EQ(c.read_response(false).status, 100);
  ASSERT_TRUE(c.send_all(std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 202);
  ASSERT_TRUE(c.send_all(request("GET", "/health")));
  EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(HttpEdgesTest, ExpectContinueOverTheLimitIs413BeforeTheBody) {
  RawConnection c(port());
  ASSERT_TRUE(c.send_all(upload_head(10 * kLimit, true)));
  const auto r = c.read_response(false);
  expect_problem_413(r, kLimit);
  EXPECT_EQ(r.headers.at("connection"), "close");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(HttpEdgesTest, UnknownExpectationIs417) {
  RawConnection c(port());
  ASSERT_TRUE(
      c.send_all(request("POST", "/upload", "Content-Length: 5\r\nExpect: something-else\r\n")));
  const auto r = c.read_response(false);
  EXPECT_EQ(r.status, 417) << r.head;
  EXPECT_EQ(nlohmann::json::parse(r.body).value("status", 0), 417);
}

TEST_F(HttpEdgesTest, AnyBodyOverTheLimitGetsA413TheClientCanRead) {
  for (const std::size_t times : {2, 10, 100})
    for (const bool chunked : {false, true})
      for (const bool expect : {false, true}) {
        SCOPED_TRACE(std::to_string(times) + "x limit" + (chunked ? ", chunked" : "") +
                     (expect ? ", Expect" : ""));
        expect_problem_413(send_oversized(times * kLimit, chunked, expect), kLimit);
      }
  // And the server carries on.
  RawConnection c(port());
  ASSERT_TRUE(c.send_all(request("GET", "/health")));
  EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(HttpEdgesTest, PipelinedRequestBeforeAnOversizedOneIsAnsweredFirst) {
  RawConnection c(port());
  ASSERT_TRUE(c.send_all(request("GET", "/health") + upload_head(2 * kLimit, false)));
  EXPECT_EQ(c.read_response().status, 200);
  expect_problem_413(c.read_response(), kLimit);
}

TEST_F(HttpEdgesTest, KeepAliveConnectionServesRequestsAfterAnUpload) {
  RawConnection c(port());
  const auto body = upload_body();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send_all(upload_head(body.size(), false) + body));
    EXPECT_EQ(c.read_response().status, 202);
  }
  ASSERT_TRUE(c.send_all(request("GET", "/requests")));
  EXPECT_EQ(c.read_response().status, 200);
}

// stop() ends every connection, whatever it was doing: each socket closes and nothing of
// it is left behind (LeakSanitizer checks that in the sanitizer build). A connection kept
// alive by a reference cycle (the socket holding RESTinio's read handler, which holds the
// connection, which owns the socket) stays open here instead.
TEST_F(HttpEdgesTest, StopEndsEveryConnectionWhateverItsState) {
  const auto body = upload_body();
  {  // a client that goes away in the middle of a body
    RawConnection gone(port());
    ASSERT_TRUE(gone.send_all(upload_head(body.size(), false) + body.substr(0, body.size() / 2)));
  }
  RawConnection mid_body(port());  // a head and half its body, the rest awaited
  ASSERT_TRUE(mid_body.send_all(upload_head(body.size(), false) + body.substr(0, body.size() / 2)));
  RawConnection mid_head(port());  // half a head, held back from RESTinio by the scanner
  ASSERT_TRUE(mid_head.send_all("POST /upload HTTP/1.1\r\nHost: te"));
  RawConnection continued(port());  // 100 Continue sent, the body awaited
  ASSERT_TRUE(continued.send_all(upload_head(body.size(), true)));
  ASSERT_EQ(continued.read_response(false).status, 100);
  RawConnection refused(port());  // 413 sent, its lingering close under way
  ASSERT_TRUE(refused.send_all(upload_head(10 * kLimit, false)));
  expect_problem_413(refused.read_response(), kLimit);
  RawConnection idle(port());  // keep-alive, its next request awaited
  ASSERT_TRUE(idle.send_all(request("GET", "/health")));
  ASSERT_EQ(idle.read_response().status, 200);

  server_->stop();
  EXPECT_TRUE(mid_body.closed_by_server());
  EXPECT_TRUE(mid_head.closed_by_server());
  EXPECT_TRUE(continued.closed_by_server());
  EXPECT_TRUE(refused.closed_by_server());
  EXPECT_TRUE(idle.closed_by_server());
}

// --- RequestScanner alone: the framing it follows, fed whole or a byte at a time ---------

struct Scanned {
  std::string released;
  std::vector<http::RequestScanner::Step> events;
  std::size_t used = 0;
};

Scanned scan(std::string_view input, std::uint64_t limit, std::size_t piece) {
  http::RequestScanner scanner(limit);
  Scanned out;
  std::string_view rest = input;
  while (!rest.empty()) {
    auto part = rest.substr(0, piece);
    while (!part.empty()) {
      auto step = scanner.feed(part, out.released);
      out.used += step.used;
      part.remove_prefix(step.used);
      rest.remove_prefix(step.used);
      if (step.event != http::RequestScanner::Event::kNone) out.events.push_back(step);
      if (step.event == http::RequestScanner::Event::kRefuse) return out;
    }
  }
  return out;
}

TEST(RequestScanner, ReleasesPipelinedRequestsWholeAndAsksForContinueAfterTheHead) {
  const std::string body(100, 'b');
  const std::string input = request("GET", "/health") +
                            "POST /upload HTTP/1.1\r\nContent-Length: 100\r\n"
                            "Expect: 100-Continue\r\n\r\n" +
                            body + request("GET", "/requests");
  for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, input.size()}) {
    SCOPED_TRACE(piece);
    const auto s = scan(input, 100, piece);
    EXPECT_EQ(s.released, input);
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].event, http::RequestScanner::Event::kContinue);
  }
}

TEST(RequestScanner, HoldsBackARefusedHeadWhole) {
  const std::string first = request("GET", "/health");
  const std::string input = first + "POST /upload HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
  for (const std::size_t piece : {std::size_t{1}, input.size()}) {
    const auto s = scan(input, 100, piece);
    EXPECT_EQ(s.released, first);  // nothing of the refused request
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].status, 413);
  }
}

TEST(RequestScanner, CountsChunkedBodiesAndRefusesTheChunkThatPassesTheLimit) {
  const std::string head = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string within = head + "32\r\n" + std::string(50, 'a') + "\r\n32;x=y\r\n" +
                             std::string(50, 'a') + "\r\n0\r\nTrailer: t\r\n\r\n" +
                             request("GET", "/health");
  auto s = scan(within, 100, 3);
  EXPECT_EQ(s.released, within);  // exactly the limit is fine
  EXPECT_TRUE(s.events.empty());
  const std::string over = head + "32\r\n" + std::string(50, 'a') + "\r\n33\r\n";
  s = scan(over, 100, 1);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].status, 413);
  EXPECT_EQ(s.released.find("33"), std::string::npos);  // refused at its size line
}

TEST(RequestScanner, UnknownExpectationIs417AndWhatItCannotFollowPassesThrough) {
  auto s = scan(request("POST", "/x", "Expect: gold\r\nContent-Length: 1\r\n"), 100, 1);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].status, 417);
  // A malformed chunk size is RESTinio's to refuse: the bytes go on untouched.
  const std::string bad = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nmore";
  s = scan(bad, 100, 1);
  EXPECT_EQ(s.released, bad);
  EXPECT_TRUE(s.events.empty());
}

}  // namespace
}  // namespace imgbatch

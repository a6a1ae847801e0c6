// Answers without a body: HEAD (RFC 9110 9.3.2: the GET's headers, its Content-Length
// included, and no body) and 304 (RFC 9110 15.4.5: no body, and no Content-Length: 0
// pretending the resource is empty). RESTinio's builders always write a Content-Length,
// so these are written by a builder of our own (bodiless_output_t).
#pragma once

#include <vector>

#include <restinio/request_handler.hpp>

#include "reply.hpp"
#include "routes.hpp"

namespace imgbatch::http {

// True when `reply`, answering `req`, must go without a body.
bool is_bodiless(const restinio::request_t& req, const Reply& reply);

// Sends `reply` without its body; a HEAD's Content-Length is that of the GET's body.
void send_bodiless(const restinio::request_handle_t& req, const Reply& reply);

// `routes` and, next to each GET route, a HEAD route running the same handler.
std::vector<Route> with_head_routes(const std::vector<Route>& routes);

}  // namespace imgbatch::http

#include "bodiless_response.hpp"

#include <string>

#include <restinio/message_builders.hpp>

namespace imgbatch::http {

// A response of headers only, with a Content-Length only when one is set.
struct bodiless_output_t {};

}  // namespace imgbatch::http

namespace restinio {

template <>
class response_builder_t<imgbatch::http::bodiless_output_t> final
    : public base_response_builder_t<response_builder_t<imgbatch::http::bodiless_output_t>> {
 public:
  using base_type_t =
      base_response_builder_t<response_builder_t<imgbatch::http::bodiless_output_t>>;
  using base_type_t::base_type_t;
  response_builder_t(response_builder_t&&) = default;

  response_builder_t& set_content_length(std::size_t length) & {
    m_header.content_length(length);
    content_length_ = true;
    return *this;
  }

  request_handling_status_t done() {
    if (!m_connection) throw_done_must_be_called_once();
    impl::connection_handle_t connection{std::move(m_connection)};
    const auto presence = content_length_
                              ? impl::content_length_field_presence_t::add_content_length
                              : impl::content_length_field_presence_t::skip_content_length;
    writable_items_container_t parts;
    parts.emplace_back(impl::create_header_string(m_header, presence));
    write_group_t group{std::move(parts)};
    group.status_line_size(calculate_status_line_size());
    connection->write_response_parts(
        m_request_id,
        response_output_flags_t{response_parts_attr_t::final_parts,
                                response_connection_attr(m_header.should_keep_alive())},
        std::move(group));
    return request_accepted();
  }

 private:
  bool content_length_ = false;
};

}  // namespace restinio

namespace imgbatch::http {

bool is_bodiless(const restinio::request_t& req, const Reply& reply) {
  return reply.status == 304 || reply.status == 204 ||
         req.header().method() == restinio::http_method_head();
}

void send_bodiless(const restinio::request_handle_t& req, const Reply& reply) {
  auto response = req->create_response<bodiless_output_t>(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(reply.status)},
      std::string(reason_phrase(reply.status))});
  response.append_header_date_field();
  for (const auto& [name, value] : reply.headers) response.append_header(name, value);
  if (reply.status != 304 && reply.status != 204)
    response.set_content_length(reply.head_content_length.value_or(reply.body.size()));
  response.done();
}

std::vector<Route> with_head_routes(const std::vector<Route>& routes) {
  std::vector<Route> out;
  out.reserve(routes.size() * 2);
  for (auto& route : routes) {
    const bool get = route.method == restinio::http_method_get();
    out.push_back(route);
    if (get)
      out.push_back(Route{restinio::http_method_head(), route.path, route.handler, route.access,
                          route.blocking});
  }
  return out;
}

}  // namespace imgbatch::http

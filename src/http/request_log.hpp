// Which request (an upload's id) an HTTP call is about, so that its log lines can carry
// it (logging.hpp): the `:id` of the path (/requests/ID/output.csv, /images/ID/NAME) or
// the request_id query parameter (/status). Only a well-formed id counts, so a log never
// holds whatever a client typed there.
#pragma once

#include <string>

#include <restinio/request_handler.hpp>
#include <restinio/router/express.hpp>

namespace imgbatch::http {

// The id in lower case, or "" when the call names none.
std::string request_id_of(const restinio::request_t& req,
                          const restinio::router::route_params_t& params);

}  // namespace imgbatch::http

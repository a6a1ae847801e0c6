#include "http/reply.hpp"

namespace imgbatch::http {

Reply json_reply(int status, const nlohmann::json& body) {
  Reply reply;
  reply.status = status;
  reply.header("Content-Type", std::string(kJsonType));
  // Replace invalid UTF-8 rather than throw: a field copied from a request must never
  // turn an answer into a 500.
  reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return reply;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default:
      if (status < 300) return "Success";
      if (status < 400) return "Redirection";
      return status < 500 ? "Client Error" : "Server Error";
  }
}

}  // namespace imgbatch::http

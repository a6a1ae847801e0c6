#include "problem.hpp"

#include <utility>

namespace imgbatch::http {

namespace {
nlohmann::json problem_body(int status, std::string detail) {
  return {{"type", "about:blank"},
          {"title", std::string(reason_phrase(status))},
          {"status", status},
          {"detail", std::move(detail)}};
}

Reply problem_reply(int status, const nlohmann::json& body) {
  Reply reply = json_reply(status, body);
  reply.headers.clear();
  reply.header("Content-Type", std::string(kProblemType));
  return reply;
}
}  // namespace

Reply problem(int status, std::string detail) {
  return problem_reply(status, problem_body(status, std::move(detail)));
}

Reply problem(int status, std::string detail, nlohmann::json errors) {
  auto body = problem_body(status, std::move(detail));
  body["errors"] = std::move(errors);
  return problem_reply(status, body);
}

Reply problem_with_members(int status, std::string detail, const nlohmann::json& members) {
  auto body = problem_body(status, std::move(detail));
  for (const auto& [name, value] : members.items()) body[name] = value;
  return problem_reply(status, body);
}

}  // namespace imgbatch::http

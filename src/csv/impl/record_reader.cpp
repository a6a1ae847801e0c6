#include "impl/record_reader.hpp"

#include <csv.h>

#include <cstring>
#include <new>

#include "impl/text.hpp"

namespace imgbatch::csv::impl {
namespace {

constexpr unsigned char kOptions = CSV_STRICT | CSV_STRICT_FINI;

class Parser {
 public:
  Parser() { init(); }
  ~Parser() { csv_free(&p_); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  csv_parser* get() { return &p_; }
  // After a strict-mode error libcsv keeps its error state; start over clean.
  void reset() {
    csv_free(&p_);
    init();
  }

 private:
  void init() {
    if (csv_init(&p_, kOptions) != 0) throw std::bad_alloc();
  }
  csv_parser p_{};
};

struct State {
  RecordSink* sink = nullptr;
  std::vector<std::string> fields;
  int record_line = 0;
  bool in_record = false;
};

void on_field(void* data, std::size_t len, void* ctx) {
  auto* st = static_cast<State*>(ctx);
  st->fields.emplace_back(static_cast<const char*>(data), len);
}

void on_record_end(int /*terminator*/, void* ctx) {
  auto* st = static_cast<State*>(ctx);
  st->sink->on_record(st->record_line, st->fields);
  st->fields.clear();
  st->in_record = false;
}

// Finds where physical lines end. The next LF is remembered so that a file with lone-CR
// line ends is not rescanned for an LF once per line (which would be quadratic).
class LineSplitter {
 public:
  explicit LineSplitter(std::string_view s) : s_(s) {}

  // End (exclusive, after the line terminator) of the line starting at `pos`.
  std::size_t line_end(std::size_t pos) {
    if (next_lf_ < pos || next_lf_ == kUnknown) {
      const void* lf = std::memchr(s_.data() + pos, '\n', s_.size() - pos);
      next_lf_ =
          lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - s_.data()) : s_.size();
    }
    const void* cr = std::memchr(s_.data() + pos, '\r', next_lf_ - pos);
    if (cr) {
      const auto at = static_cast<std::size_t>(static_cast<const char*>(cr) - s_.data());
      if (at + 1 < next_lf_) return at + 1;  // a lone CR ends the line
    }
    return next_lf_ < s_.size() ? next_lf_ + 1 : s_.size();
  }

 private:
  static constexpr std::size_t kUnknown = static_cast<std::size_t>(-1);
  std::string_view s_;
  std::size_t next_lf_ = kUnknown;
};

}  // namespace

bool read_records(std::string_view bytes, RecordSink& sink) {
  Parser parser;
  State st;
  st.sink = &sink;
  LineSplitter splitter(bytes);

  std::size_t pos = 0;
  int line = 0;
  while (pos < bytes.size()) {
    ++line;
    const std::size_t end = splitter.line_end(pos);
    const std::string_view chunk = bytes.substr(pos, end - pos);
    pos = end;

    if (!st.in_record) {
      // libcsv skips blank lines between records itself; skipping them here keeps the
      // record's first line right.
      if (is_all_blank(chunk)) continue;
      if (sink.done()) return false;
      st.in_record = true;
      st.record_line = line;
    }
    if (const auto bad = find_invalid_utf8(chunk); bad != std::string_view::npos)
      sink.on_invalid_utf8(line, bad);
    const std::size_t used =
        csv_parse(parser.get(), chunk.data(), chunk.size(), on_field, on_record_end, &st);
    if (used < chunk.size()) {
      if (csv_error(parser.get()) != CSV_EPARSE) throw std::bad_alloc();
      sink.on_misplaced_quote(st.record_line, st.fields.size());
      parser.reset();
      st.fields.clear();
      st.in_record = false;
    }
  }

  if (csv_fini(parser.get(), on_field, on_record_end, &st) != 0) {
    if (csv_error(parser.get()) != CSV_EPARSE) throw std::bad_alloc();
    sink.on_unterminated_quote(st.record_line, st.fields.size());
  }
  return true;
}

}  // namespace imgbatch::csv::impl

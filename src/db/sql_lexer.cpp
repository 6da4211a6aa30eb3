#include "db/sql_lexer.hpp"

#include <cctype>
#include <cstddef>

namespace weft::db::sql {
namespace {

bool ident_start(char c) noexcept {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool ident_char(char c) noexcept {
  return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

bool keyword_is(std::string_view word, std::string_view kw) noexcept {
  if (word.size() != kw.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(word[i])) != kw[i]) return false;
  }
  return true;
}

// Walks the tokens that matter: words (outside literals and comments) and ';'.
class Scanner {
 public:
  explicit Scanner(std::string_view s) noexcept : s_(s) {}

  // The next character that is not white space, or '\0'.
  char next_significant() const noexcept {
    for (std::size_t j = i_; j < s_.size(); ++j) {
      if (!std::isspace(static_cast<unsigned char>(s_[j]))) return s_[j];
    }
    return '\0';
  }

  // Next token: a word, ";" or empty at the end.
  std::string_view next() noexcept {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '-' && peek(1) == '-') {
        skip_until("\n", 2);
      } else if (c == '/' && peek(1) == '*') {
        skip_until("*/", 2);
      } else if (c == '\'' || c == '"' || c == '`') {
        skip_quoted(c);
      } else if (c == '[') {
        skip_until("]", 1);
      } else if (c == ';') {
        return s_.substr(i_++, 1);
      } else if (c == '?' || c == ':' || c == '@' || c == '$') {
        ++i_;  // a parameter: its name is not a keyword
        while (i_ < s_.size() && ident_char(s_[i_])) ++i_;
      } else if (ident_start(c)) {
        std::size_t start = i_;
        while (i_ < s_.size() && ident_char(s_[i_])) ++i_;
        return s_.substr(start, i_ - start);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        while (i_ < s_.size() && (ident_char(s_[i_]) || s_[i_] == '.')) ++i_;
      } else {
        ++i_;
      }
    }
    return {};
  }

 private:
  char peek(std::size_t ahead) const noexcept {
    return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0';
  }
  void skip_until(std::string_view end, std::size_t opener) noexcept {
    std::size_t at = s_.find(end, i_ + opener);
    i_ = at == std::string_view::npos ? s_.size() : at + end.size();
  }
  void skip_quoted(char q) noexcept {
    ++i_;
    while (i_ < s_.size()) {
      if (s_[i_] == q) {
        if (peek(1) == q) {
          i_ += 2;  // doubled quote: an escaped quote
          continue;
        }
        ++i_;
        return;
      }
      ++i_;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

Kind first_keyword_kind(std::string_view w) noexcept {
  if (keyword_is(w, "SELECT") || keyword_is(w, "VALUES") || keyword_is(w, "WITH") ||
      keyword_is(w, "EXPLAIN")) {
    return Kind::read;
  }
  if (keyword_is(w, "BEGIN") || keyword_is(w, "COMMIT") || keyword_is(w, "END") ||
      keyword_is(w, "ROLLBACK")) {
    return Kind::transaction_control;
  }
  if (keyword_is(w, "SAVEPOINT") || keyword_is(w, "RELEASE")) return Kind::savepoint;
  return Kind::write;
}

bool writing_keyword(std::string_view w) noexcept {
  return keyword_is(w, "INSERT") || keyword_is(w, "UPDATE") || keyword_is(w, "DELETE") ||
         keyword_is(w, "REPLACE");
}

// The more restrictive of two statements' kinds, for scripts.
int rank(Kind k) noexcept {
  switch (k) {
    case Kind::empty: return 0;
    case Kind::read: return 1;
    case Kind::write: return 2;
    case Kind::savepoint: return 3;
    case Kind::transaction_control: return 4;
  }
  return 4;
}

// CREATE TRIGGER ... BEGIN stmt; stmt; END is one statement: its ';' are inside the body.
// CASE ... END inside the body is tracked so that its END does not close the body.
struct TriggerBody {
  bool creating = false;  // the statement is CREATE [TEMP] TRIGGER
  bool inside = false;    // between its BEGIN and END
  int cases = 0;          // open CASE expressions inside the body

  void reset() noexcept { *this = {}; }
  // Updates the state with one token of the statement; true while inside the body.
  bool see(std::string_view tok, bool first_is_create) noexcept {
    if (!inside) {
      if (first_is_create && keyword_is(tok, "TRIGGER")) creating = true;
      else if (creating && keyword_is(tok, "BEGIN")) inside = true;
      return inside;
    }
    if (keyword_is(tok, "CASE")) ++cases;
    else if (keyword_is(tok, "END") && cases > 0) --cases;
    else if (keyword_is(tok, "END")) inside = false;
    return true;
  }
};

}  // namespace

Info classify(std::string_view text) noexcept {
  Scanner scan(text);
  Info info;
  Kind current = Kind::empty;
  bool first_is_rollback = false, first_is_create = false;
  TriggerBody trigger;
  auto finish_statement = [&] {
    if (current == Kind::empty) return;
    ++info.statements;
    if (rank(current) > rank(info.kind)) info.kind = current;
    current = Kind::empty;
    trigger.reset();
  };
  for (std::string_view tok = scan.next(); !tok.empty(); tok = scan.next()) {
    if (tok == ";" && !trigger.inside) {
      finish_statement();
      continue;
    }
    if (current == Kind::empty) {
      current = first_keyword_kind(tok);
      first_is_rollback = keyword_is(tok, "ROLLBACK");
      first_is_create = keyword_is(tok, "CREATE");
    } else if (trigger.see(tok, first_is_create)) {
      continue;  // a trigger's body: part of the CREATE TRIGGER statement
    } else if (current == Kind::read && writing_keyword(tok) &&
               !(keyword_is(tok, "REPLACE") && scan.next_significant() == '(')) {  // replace()
      current = Kind::write;
    } else if (first_is_rollback && keyword_is(tok, "TO")) {
      current = Kind::savepoint;
    }
  }
  finish_statement();
  if (info.statements > 1 && info.kind == Kind::read) info.kind = Kind::write;
  return info;
}

bool is_blank(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    char n = i + 1 < s.size() ? s[i + 1] : '\0';
    if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
      ++i;
    } else if (c == '-' && n == '-') {
      std::size_t at = s.find('\n', i);
      i = at == std::string_view::npos ? s.size() : at + 1;
    } else if (c == '/' && n == '*') {
      std::size_t at = s.find("*/", i + 2);
      i = at == std::string_view::npos ? s.size() : at + 2;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace weft::db::sql

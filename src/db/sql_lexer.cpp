#include "db/sql_lexer.hpp"

#include <cstddef>
#include <string>

namespace weft::db::sql {
namespace {

// ASCII classes, as SQL defines them (not the C locale's: std::isalpha is a call per
// character and would follow setlocale()). Bytes >= 0x80 start identifiers (UTF-8).
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
constexpr char to_upper(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
}

bool ident_start(char c) noexcept {
  return is_alpha(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool ident_char(char c) noexcept { return ident_start(c) || is_digit(c) || c == '$'; }

bool keyword_is(std::string_view word, std::string_view kw) noexcept {
  if (word.size() != kw.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (to_upper(word[i]) != kw[i]) return false;
  }
  return true;
}

struct Token {
  enum Type : unsigned char { end, word, semicolon, parameter } type = end;
  std::string_view text;
  std::size_t offset = 0;
};

// Walks the tokens that matter: words (outside literals and comments), ';' and
// parameters.
class Scanner {
 public:
  Scanner(std::string_view s, Dialect d) noexcept : s_(s), pg_(d == Dialect::postgres) {}

  // The next character that is not white space, or '\0'.
  char next_significant() const noexcept {
    for (std::size_t j = i_; j < s_.size(); ++j) {
      if (!is_space(s_[j])) return s_[j];
    }
    return '\0';
  }

  // Next word, ";" or empty at the end (parameters are skipped).
  std::string_view next() noexcept {
    for (Token t = next_token(); t.type != Token::end; t = next_token()) {
      if (t.type != Token::parameter) return t.text;
    }
    return {};
  }

  Token next_token() noexcept {
    while (i_ < s_.size()) {
      char c = s_[i_];
      std::size_t start = i_;
      if (c == '-' && peek(1) == '-') {
        skip_until("\n", 2);
      } else if (c == '/' && peek(1) == '*') {
        skip_block_comment();
      } else if (c == '\'' || c == '"' || (!pg_ && c == '`')) {
        skip_quoted(c, false);
      } else if (!pg_ && c == '[') {
        skip_until("]", 1);
      } else if (c == ';') {
        ++i_;
        return {Token::semicolon, s_.substr(start, 1), start};
      } else if (c == '?' || (!pg_ && (c == ':' || c == '@' || c == '$'))) {
        ++i_;  // a parameter: its name is not a keyword
        while (i_ < s_.size() && (pg_ ? is_digit(s_[i_]) : ident_char(s_[i_]))) {
          ++i_;
        }
        return {Token::parameter, s_.substr(start, i_ - start), start};
      } else if (pg_ && c == '$') {
        skip_dollar();
      } else if (ident_start(c)) {
        while (i_ < s_.size() && ident_char(s_[i_])) ++i_;
        if (pg_ && i_ - start == 1 && (c == 'E' || c == 'e') && peek(0) == '\'') {
          skip_quoted('\'', true);  // E'...': backslash escapes
          continue;
        }
        return {Token::word, s_.substr(start, i_ - start), start};
      } else if (is_digit(c)) {
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
  // PostgreSQL nests block comments; SQLite ends at the first "*/".
  void skip_block_comment() noexcept {
    if (!pg_) return skip_until("*/", 2);
    int depth = 0;
    while (i_ < s_.size()) {
      if (s_[i_] == '/' && peek(1) == '*') {
        ++depth;
        i_ += 2;
      } else if (s_[i_] == '*' && peek(1) == '/') {
        i_ += 2;
        if (--depth == 0) return;
      } else {
        ++i_;
      }
    }
  }
  void skip_quoted(char q, bool backslash_escapes) noexcept {
    ++i_;
    while (i_ < s_.size()) {
      if (backslash_escapes && s_[i_] == '\\') {
        i_ += 2;
        continue;
      }
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
    i_ = s_.size();
  }
  // At '$' (PostgreSQL): $n is a parameter (skipped), $tag$...$tag$ a dollar-quoted
  // string; anything else is an operator character.
  void skip_dollar() noexcept {
    std::size_t j = i_ + 1;
    if (j < s_.size() && is_digit(s_[j])) {
      while (j < s_.size() && is_digit(s_[j])) ++j;
      i_ = j;
      return;
    }
    while (j < s_.size() && ident_char(s_[j]) && s_[j] != '$') ++j;
    if (j >= s_.size() || s_[j] != '$') {
      ++i_;
      return;
    }
    std::string_view tag = s_.substr(i_, j - i_ + 1);  // "$tag$" or "$$"
    std::size_t close = s_.find(tag, j + 1);
    i_ = close == std::string_view::npos ? s_.size() : close + tag.size();
  }

  std::string_view s_;
  std::size_t i_ = 0;
  bool pg_;
};

Kind first_keyword_kind(std::string_view w) noexcept {
  if (keyword_is(w, "SELECT") || keyword_is(w, "VALUES") || keyword_is(w, "WITH") ||
      keyword_is(w, "EXPLAIN")) {
    return Kind::read;
  }
  if (keyword_is(w, "BEGIN") || keyword_is(w, "COMMIT") || keyword_is(w, "END") ||
      keyword_is(w, "ROLLBACK") || keyword_is(w, "START") || keyword_is(w, "ABORT")) {
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
    case Kind::empty:
      return 0;
    case Kind::read:
      return 1;
    case Kind::write:
      return 2;
    case Kind::savepoint:
      return 3;
    case Kind::transaction_control:
      return 4;
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
      if (first_is_create && keyword_is(tok, "TRIGGER"))
        creating = true;
      else if (creating && keyword_is(tok, "BEGIN"))
        inside = true;
      return inside;
    }
    if (keyword_is(tok, "CASE"))
      ++cases;
    else if (keyword_is(tok, "END") && cases > 0)
      --cases;
    else if (keyword_is(tok, "END"))
      inside = false;
    return true;
  }
};

}  // namespace

Info classify(std::string_view text, Dialect dialect) noexcept {
  Scanner scan(text, dialect);
  Info info;
  Kind current = Kind::empty;
  bool first_is_rollback = false, first_is_create = false, dml = false;
  TriggerBody trigger;
  auto finish_statement = [&] {
    if (current == Kind::empty) return;
    ++info.statements;
    info.dml = info.statements == 1 && dml;
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
      dml = writing_keyword(tok);
    } else if (trigger.see(tok, first_is_create)) {
      continue;  // a trigger's body: part of the CREATE TRIGGER statement
    } else if (current == Kind::read && writing_keyword(tok) &&
               !(keyword_is(tok, "REPLACE") && scan.next_significant() == '(')) {  // replace()
      current = Kind::write;
      dml = true;
    } else if (first_is_rollback && keyword_is(tok, "TO")) {
      current = Kind::savepoint;
    }
  }
  finish_statement();
  if (info.statements > 1) info.dml = false;
  if (info.statements > 1 && info.kind == Kind::read) info.kind = Kind::write;
  return info;
}

std::string to_dollar_params(std::string_view sql, int& count) {
  Scanner scan(sql, Dialect::postgres);
  std::string out;
  out.reserve(sql.size() + 8);
  std::size_t copied = 0;
  int next = 0;
  count = 0;
  for (Token t = scan.next_token(); t.type != Token::end; t = scan.next_token()) {
    if (t.type != Token::parameter) continue;
    int index = next + 1;
    if (t.text.size() > 1) {
      index = 0;
      for (char c : t.text.substr(1)) index = index > 99999 ? index : index * 10 + (c - '0');
    }
    next = index > next ? index : next;
    count = next > count ? next : count;
    out.append(sql.substr(copied, t.offset - copied));
    out += '$';
    out += std::to_string(index);
    copied = t.offset + t.text.size();
  }
  out.append(sql.substr(copied));
  return out;
}

bool is_blank(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    char n = i + 1 < s.size() ? s[i + 1] : '\0';
    if (is_space(c) || c == ';') {
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

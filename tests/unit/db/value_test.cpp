// Values, rows, the error category, URL parsing and the SQL scanner (no database).
#include "db/sql_lexer.hpp"
#include "db_test_util.hpp"

#include <weft/db/value.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace weft::db {
namespace {

TEST(DbValue, ConvertsFromCxxTypes) {
  EXPECT_EQ(Value().type(), Type::null);
  EXPECT_EQ(Value(nullptr).type(), Type::null);
  EXPECT_EQ(Value(42).as_int(), 42);
  EXPECT_EQ(Value(true).as_int(), 1);
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).as_int(),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(Value(2.5).as_double(), 2.5);
  EXPECT_EQ(Value(7).as_double(), 7.0);  // integer widens to real
  EXPECT_EQ(Value("abc").as_text(), "abc");
  EXPECT_EQ(Value(std::string("a\0b", 3)).as_text().size(), 3u);
  EXPECT_EQ(Value(Blob::from("xy")).as_blob().size(), 2u);
  EXPECT_TRUE(Value(std::optional<int>()).is_null());
  EXPECT_EQ(Value(std::optional<int>(3)).as_int(), 3);
  Params p = params(1, "two", 3.0, nullptr);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[1].type(), Type::text);
  EXPECT_TRUE(p[3].is_null());
}

TEST(DbValue, AsChecksTheType) {
  Value text("abc");
  try {
    (void)text.as_int();
    FAIL() << "as_int on text did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::type_mismatch);
    EXPECT_STREQ(e.code().category().name(), "weft.db");
    EXPECT_NE(std::string(e.what()).find("value is text, not integer"), std::string::npos);
  }
  EXPECT_EQ(Value(300).as<std::int64_t>(), 300);
  EXPECT_THROW((void)Value(300).as<std::int8_t>(), Error);
  EXPECT_EQ(Value().as<std::optional<std::string>>(), std::nullopt);
  EXPECT_EQ(Value("x").as<std::optional<std::string>>(), "x");
  EXPECT_EQ(Value("x").as<std::string_view>(), "x");
  EXPECT_TRUE(Value(1).as<bool>());
}

TEST(DbValue, ToString) {
  EXPECT_EQ(to_string(Value()), "NULL");
  EXPECT_EQ(to_string(Value(-3)), "-3");
  EXPECT_EQ(to_string(Value("it's")), "'it''s'");
  EXPECT_EQ(to_string(Value(Blob::from(std::string("\x00\xff", 2)))), "x'00ff'");
}

TEST(DbValue, RowLooksUpColumnsByName) {
  auto cols =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"id", "name"});
  Row row(cols, {Value(1), Value("ann")});
  EXPECT_EQ(row["name"].as_text(), "ann");
  EXPECT_EQ(row.get<int>("id"), 1);
  EXPECT_EQ(row.columns().size(), 2u);
  try {
    (void)row["nope"];
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::no_such_column);
  }
}

TEST(DbOpen, RejectsUnknownAndUnsupportedUrls) {
  Loop loop;
  try {
    (void)open(loop, "postgres://me@localhost:5432/app?nosuchoption=1");
    FAIL() << "a bad postgres URL did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::bad_url);
    EXPECT_NE(std::string(e.what()).find("nosuchoption"), std::string::npos) << e.what();
  }
  try {
    (void)open(loop, "mysql://x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::bad_url);
  }
  EXPECT_THROW((void)open(loop, "sqlite:"), Error);
  weft::testing::expect_clean_close(loop);
}

// Info::dml: what group commit may take (one data change that may run in a transaction).
TEST(DbSqlScanner, MarksSingleDataChangesAsDml) {
  using sql::classify;
  for (const char* s :
       {"INSERT INTO t VALUES(1)", "update t set a = 1", "DELETE FROM t;",
        "REPLACE INTO t VALUES(1)", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "INSERT INTO t VALUES(1) RETURNING id"}) {
    EXPECT_TRUE(classify(s).dml) << s;
  }
  for (const char* s :
       {"SELECT 1", "SELECT replace(a, 'x', 'y') FROM t", "CREATE TABLE t(a)",
        "PRAGMA user_version = 3", "VACUUM", "INSERT INTO t VALUES(1); INSERT INTO t VALUES(2)",
        "CREATE TRIGGER g AFTER INSERT ON t BEGIN INSERT INTO u VALUES(1); END", "BEGIN",
        "SAVEPOINT a", "ALTER TABLE t ADD COLUMN b", "DROP TABLE t"}) {
    EXPECT_FALSE(classify(s).dml) << s;
  }
}

TEST(DbSqlScanner, RoutesReadsAndWrites) {
  using sql::classify;
  using sql::Kind;
  EXPECT_EQ(classify("SELECT 1").kind, Kind::read);
  EXPECT_EQ(classify("  -- c\n select * from t where a = 'INSERT'").kind, Kind::read);
  EXPECT_EQ(classify("WITH x AS (SELECT 1) SELECT * FROM x").kind, Kind::read);
  EXPECT_EQ(classify("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x").kind, Kind::write);
  EXPECT_EQ(classify("SELECT \"update\" FROM t").kind, Kind::read);
  EXPECT_EQ(classify("INSERT INTO t VALUES(1)").kind, Kind::write);
  EXPECT_EQ(classify("SELECT replace(name, 'a', 'b') FROM t").kind, Kind::read);
  EXPECT_EQ(classify("SELECT 1 FROM t WHERE x IN (SELECT 1); REPLACE INTO t VALUES(1)").kind,
            Kind::write);
  EXPECT_EQ(classify("SELECT 1; SELECT 2").kind, Kind::write);
  EXPECT_EQ(classify("SELECT 1;").statements, 1);
  EXPECT_EQ(classify("begin immediate").kind, Kind::transaction_control);
  EXPECT_EQ(classify("CREATE TABLE t(a); COMMIT").kind, Kind::transaction_control);
  EXPECT_EQ(classify("ROLLBACK TO sp").kind, Kind::savepoint);
  EXPECT_EQ(classify("SAVEPOINT sp").kind, Kind::savepoint);
  EXPECT_EQ(classify(" ;; /* */ ").kind, Kind::empty);
  // A trigger's body (with its own ';', CASE ... END and END) is one statement.
  auto trigger = classify(
      "CREATE TRIGGER t1 BEFORE INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END;"
      " SELECT RAISE(ABORT, 'x'); END; SELECT 1");
  EXPECT_EQ(trigger.kind, Kind::write);
  EXPECT_EQ(trigger.statements, 2);
  EXPECT_EQ(classify("CREATE TRIGGER t1 AFTER DELETE ON t BEGIN DELETE FROM u; END; COMMIT").kind,
            Kind::transaction_control);
  EXPECT_TRUE(sql::is_blank(" ; -- x\n /* y */ "));
  EXPECT_FALSE(sql::is_blank(" 'x' "));
}

}  // namespace
}  // namespace weft::db

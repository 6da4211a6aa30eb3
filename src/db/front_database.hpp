// The Database and Transaction classes both backends share. Each forwards to its backend's
// loop-side Front (sqlite::Front, pg::Front), which does the routing and ordering; these
// classes only own it (Database) or refer to it weakly (Transaction, which may outlive its
// Database: then every call fails with errc::closed).
//
// What a Front provides is the DatabaseFront concept below; both close through
// CloseProtocol (close_protocol.hpp).
#pragma once

#include <weft/db/database.hpp>
#include <weft/loop.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace weft::db::detail {

// A backend's loop-side front. Every callback runs exactly once, on the loop thread,
// never inside the call (Database's contract); submit and tx_submit take the statement's
// CancelToken (database.hpp, "Cancellation"); stats() and destroy() on the loop thread,
// group_stats() on any thread.
template <class F>
concept DatabaseFront = requires(F& f, const F& cf, std::string sql, Params params, bool flag,
                                 std::uint64_t tx, Callback<ResultSet> rows,
                                 Callback<std::unique_ptr<Transaction>> begun, Callback<void> done,
                                 CancelToken token) {
  f.start();  // once, from FrontDatabase's constructor
  { f.destroy() }
  noexcept;  // the Database is being destroyed
  { cf.stats() } -> std::same_as<Stats>;
  { cf.group_stats() } -> std::same_as<GroupStats>;
  // flag: the statement must run on the writer (exec())
  f.submit(std::move(sql), std::move(params), flag, std::move(rows), std::move(token));
  f.begin(std::move(begun));
  f.ready(std::move(done));
  f.close(std::move(done));  // CloseProtocol
  f.tx_submit(tx, std::move(sql), std::move(params), std::move(rows), std::move(token));
  f.tx_finish(tx, flag, std::move(done));                           // flag: commit
  { f.weak_from_this() } -> std::convertible_to<std::weak_ptr<F>>;  // transactions refer weakly
};

Error closed_error();  // errc::closed, "the database is closed"
// std::errc::operation_canceled: the statement was cancelled before it ran.
Error statement_canceled();

// Delivers an error to a callback in the next pending phase (never inside the call).
template <class T>
void deliver_later(Loop& loop, Callback<T> cb, Error e) {
  loop.defer([cb = std::move(cb), out = Outcome<T>(std::move(e))]() mutable { cb(out); });
}

template <DatabaseFront Front>
class FrontTransaction final : public Transaction {
 public:
  FrontTransaction(Loop& loop, std::weak_ptr<Front> front, std::uint64_t id) noexcept
      : loop_(loop), front_(std::move(front)), id_(id) {}
  ~FrontTransaction() override {  // not finished: roll back
    if (finished_) return;
    if (auto f = front_.lock()) f->tx_finish(id_, false, Callback<void>());
  }
  bool finished() const noexcept override { return finished_; }

 protected:
  void do_submit(std::string sql, Params params, Callback<ResultSet> cb,
                 CancelToken token) override {
    if (finished_) return deliver_later(loop_, std::move(cb), finished_error());
    auto f = front_.lock();
    if (!f) return deliver_later(loop_, std::move(cb), closed_error());
    if (token.cancelled()) return deliver_later(loop_, std::move(cb), statement_canceled());
    f->tx_submit(id_, std::move(sql), std::move(params), std::move(cb), std::move(token));
  }
  // Finished from here on, whatever the outcome: a failed commit has rolled back.
  void do_finish(bool commit, Callback<void> cb) override {
    if (finished_) return deliver_later(loop_, std::move(cb), finished_error());
    finished_ = true;
    auto f = front_.lock();
    if (!f) return deliver_later(loop_, std::move(cb), closed_error());
    f->tx_finish(id_, commit, std::move(cb));
  }

 private:
  static Error finished_error() {
    return Error(errc::misuse, "the transaction is already finished");
  }
  Loop& loop_;
  std::weak_ptr<Front> front_;
  std::uint64_t id_;
  bool finished_ = false;
};

template <DatabaseFront Front>
class FrontDatabase final : public Database {
 public:
  template <class Spec>
  FrontDatabase(Loop& loop, std::string_view backend, Spec spec)
      : loop_(loop), backend_(backend), front_(std::make_shared<Front>(loop, std::move(spec))) {
    front_->start();
  }
  ~FrontDatabase() override { front_->destroy(); }

  Stats stats() const override { return front_->stats(); }
  GroupStats group_stats() const override { return front_->group_stats(); }
  std::string_view backend() const noexcept override { return backend_; }
  Loop& loop() const noexcept override { return loop_; }

 protected:
  void do_submit(std::string sql, Params params, Route route, Callback<ResultSet> cb,
                 CancelToken token) override {
    if (token.cancelled()) return deliver_later(loop_, std::move(cb), statement_canceled());
    front_->submit(std::move(sql), std::move(params), route == Route::writer, std::move(cb),
                   std::move(token));
  }
  void do_begin(Callback<std::unique_ptr<Transaction>> cb) override {
    front_->begin(std::move(cb));
  }
  void do_ready(Callback<void> cb) override { front_->ready(std::move(cb)); }
  void do_close(Callback<void> cb) override { front_->close(std::move(cb)); }

 private:
  Loop& loop_;
  std::string_view backend_;  // a literal
  std::shared_ptr<Front> front_;
};

}  // namespace weft::db::detail

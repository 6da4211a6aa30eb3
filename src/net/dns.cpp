// DNS lookup: the Resolver's waiters, in-flight lookups and cache (see net/dns.hpp).
//
// All state lives in a ResolverState owned by the Resolver through a shared_ptr. Pool
// completions, deferred deliveries and ResolveHandles hold weak references; timers are
// owned by the waiters they time. Destroying the Resolver closes the state (drops every
// waiter, and with it its timer) and releases it: a completion that comes later finds
// nothing. Nothing here keeps a pointer to the loop alive past the state, and closing
// the state never calls the loop (only Timer destructors, which are safe after the
// loop died), so a default resolver may outlive its loop.
#include <weft/net/dns.hpp>

#include <weft/loop.hpp>
#include <weft/pool.hpp>
#include <weft/timer.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <list>
#include <optional>
#include <stdexcept>
#include <unordered_map>

namespace weft::net {

// ---- errors --------------------------------------------------------------------------

namespace {

class DnsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.dns"; }
  std::string message(int value) const override { return ::gai_strerror(value); }
};

}  // namespace

const std::error_category& dns_category() noexcept {
  static const DnsCategory category;
  return category;
}

std::error_code dns_error(int eai, int sys_errno) noexcept {
  if (eai == 0) return {};
  if (eai == EAI_SYSTEM) {
    return sys_errno != 0 ? std::error_code(sys_errno, std::system_category())
                          : make_error_code(dns_errc::failure);
  }
  return {eai, dns_category()};
}

// ---- the blocking lookup ---------------------------------------------------------------

Result<std::vector<SocketAddress>> getaddrinfo_lookup(const std::string& host,
                                                      AddressFamily family) {
  addrinfo hints{};
  hints.ai_family = family == AddressFamily::ipv4   ? AF_INET
                    : family == AddressFamily::ipv6 ? AF_INET6
                                                    : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* list = nullptr;
  errno = 0;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) return dns_error(rc, errno);
  std::vector<SocketAddress> out;
  for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    SocketAddress a = SocketAddress::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    if (a.is_valid() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeaddrinfo(list);
  if (out.empty()) return make_error_code(dns_errc::no_data);
  return out;
}

// ---- the resolver's state ----------------------------------------------------------------

namespace detail {
namespace {

struct Key {
  std::string host;  // lower-cased
  AddressFamily family;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    return std::hash<std::string>()(k.host) * 31 + static_cast<std::size_t>(k.family);
  }
};

using LookupResult = Result<std::vector<SocketAddress>>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool family_matches(const SocketAddress& a, AddressFamily f) noexcept {
  return f == AddressFamily::any || (f == AddressFamily::ipv4 && a.is_ipv4()) ||
         (f == AddressFamily::ipv6 && a.is_ipv6());
}

}  // namespace

class ResolverState final : public std::enable_shared_from_this<ResolverState> {
 public:
  ResolverState(Loop& loop, ResolverOptions options)
      : loop_(&loop),
        options_(std::move(options)),
        lookup_(std::make_shared<const LookupFunction>(
            options_.lookup ? options_.lookup : LookupFunction(&getaddrinfo_lookup))) {}

  Loop& loop() const noexcept { return *loop_; }
  const ResolverOptions& options() const noexcept { return options_; }
  std::size_t cache_size() const noexcept { return cache_index_.size(); }
  std::size_t lookups_in_flight() const noexcept { return inflight_.size(); }
  std::size_t waiters() const noexcept { return waiters_.size(); }

  void clear_cache() noexcept {
    cache_index_.clear();
    lru_.clear();
  }

  // The Resolver is going away: every waiter (callback, timer) is dropped.
  void close() noexcept {
    closed_ = true;
    waiters_.clear();
    inflight_.clear();
    clear_cache();
  }

  ResolveHandle resolve(std::string_view host, std::uint16_t port, AddressFamily family,
                        ResolveCallback cb) {
    loop_->assert_loop_thread();
    const std::uint64_t id = next_id_++;
    Waiter& w = waiters_[id];
    w.cb = std::move(cb);
    w.port = port;
    ResolveHandle handle(weak_from_this(), id);

    // Numeric addresses never reach the pool.
    if (std::optional<SocketAddress> numeric = SocketAddress::parse(host, port)) {
      if (family_matches(*numeric, family)) {
        w.addrs.push_back(*numeric);
      } else {
        w.ec = make_error_code(dns_errc::address_family);
      }
      deliver_later(id);
      return handle;
    }
    if (host.empty() || host.find('\0') != std::string_view::npos) {
      w.ec = make_error_code(dns_errc::host_not_found);
      deliver_later(id);
      return handle;
    }

    Key key{lower(host), family};
    if (const std::vector<SocketAddress>* hit = cache_find(key)) {
      w.addrs = with_port(*hit, port);
      deliver_later(id);
      return handle;
    }

    auto running = inflight_.find(key);
    if (running == inflight_.end()) {
      const std::uint64_t generation = next_id_++;
      auto job = [lookup = lookup_, host = key.host, family]() -> LookupResult {
        return (*lookup)(host, family);
      };
      auto done = [weak = weak_from_this(), key, generation](Result<LookupResult>& outer) {
        auto self = weak.lock();
        if (!self) return;
        // The outer result fails when the job was canceled or the lookup function threw.
        LookupResult result = outer.ok() ? std::move(outer.value()) : LookupResult(outer.error());
        self->finish(key, generation, result);
      };
      WorkHandle job_handle;
      if (std::error_code ec =
              queue_work(*loop_, WorkClass::slow, std::move(job), std::move(done), &job_handle)) {
        w.ec = ec;  // queue_full
        deliver_later(id);
        return handle;
      }
      running =
          inflight_.emplace(std::move(key), Lookup{generation, {}, std::move(job_handle)}).first;
    }
    running->second.waiters.push_back(id);
    w.key = running->first;
    if (options_.timeout > Duration::zero()) {
      w.timer = std::make_unique<Timer>(*loop_);
      w.timer->set_label("dns-timeout");
      w.timer->unref();  // the pool job is the activity that keeps the loop alive
      w.timer->start([this, id] { time_out(id); }, options_.timeout);
    }
    return handle;
  }

  // Drops a waiter; a lookup that nobody waits for any more is removed from the pool if
  // it has not started (a running getaddrinfo cannot be stopped: it fills the cache).
  bool cancel(std::uint64_t id) noexcept {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return false;
    std::optional<Key> key = std::move(it->second.key);
    waiters_.erase(it);
    if (key) drop_lookup_if_unwanted(*key);
    return true;
  }

 private:
  struct Waiter {
    ResolveCallback cb;
    std::unique_ptr<Timer> timer;
    std::vector<SocketAddress> addrs;  // the answer, for a deferred delivery
    std::error_code ec;
    std::uint16_t port = 0;
    std::optional<Key> key;  // the lookup on the pool it waits for
  };
  struct Lookup {
    std::uint64_t generation;
    std::vector<std::uint64_t> waiters;  // some may be gone (canceled, timed out)
    WorkHandle job;
  };

  void drop_lookup_if_unwanted(const Key& key) noexcept {
    auto it = inflight_.find(key);
    if (it == inflight_.end()) return;
    for (std::uint64_t other : it->second.waiters) {
      if (waiters_.count(other) != 0) return;
    }
    if (it->second.job.cancel()) inflight_.erase(it);  // its completion finds no lookup
  }
  struct CacheEntry {
    Key key;
    std::vector<SocketAddress> addrs;  // port 0
    TimePoint expires;
  };

  static std::vector<SocketAddress> with_port(const std::vector<SocketAddress>& addrs,
                                              std::uint16_t port) {
    std::vector<SocketAddress> out = addrs;
    for (SocketAddress& a : out) a.set_port(port);
    return out;
  }

  // Calls the waiter's callback with its stored answer, in a later pending phase.
  void deliver_later(std::uint64_t id) {
    loop_->defer([weak = weak_from_this(), id] {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      auto it = self->waiters_.find(id);
      if (it == self->waiters_.end()) return;  // canceled
      Waiter w = std::move(it->second);
      self->waiters_.erase(it);
      if (w.cb) w.cb(w.ec, w.addrs);
    });
  }

  void time_out(std::uint64_t id) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto self = shared_from_this();  // the callback may destroy the Resolver
    Waiter w = std::move(it->second);
    waiters_.erase(it);
    if (w.cb) w.cb(std::make_error_code(std::errc::timed_out), {});
    // w (and its timer, whose callback this is: the loop moved the callback out first)
    // is destroyed here.
  }

  // Pool completion of the lookup for key.
  void finish(const Key& key, std::uint64_t generation, LookupResult& result) {
    if (closed_) return;
    auto it = inflight_.find(key);
    if (it == inflight_.end() || it->second.generation != generation) return;
    std::vector<std::uint64_t> ids = std::move(it->second.waiters);
    inflight_.erase(it);

    std::error_code ec = result.error();
    std::vector<SocketAddress> addrs;
    if (result.ok()) {
      addrs = std::move(result.value());
      if (addrs.empty()) ec = make_error_code(dns_errc::no_data);
    }
    if (!ec) cache_store(key, addrs);

    auto self = shared_from_this();  // a callback may destroy the Resolver
    for (std::uint64_t id : ids) {
      if (closed_) return;
      auto w_it = waiters_.find(id);
      if (w_it == waiters_.end()) continue;  // canceled or timed out
      Waiter w = std::move(w_it->second);
      waiters_.erase(w_it);
      w.timer.reset();
      if (!w.cb) continue;
      std::vector<SocketAddress> mine =
          ec ? std::vector<SocketAddress>() : with_port(addrs, w.port);
      // Each waiter is its own loop callback: one that throws does not starve the others.
      weft::detail::LoopAccess::call(*loop_, [&] { w.cb(ec, mine); });
    }
  }

  const std::vector<SocketAddress>* cache_find(const Key& key) {
    auto it = cache_index_.find(key);
    if (it == cache_index_.end()) return nullptr;
    if (loop_->now() >= it->second->expires) {
      lru_.erase(it->second);
      cache_index_.erase(it);
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
    return &it->second->addrs;
  }

  void cache_store(const Key& key, const std::vector<SocketAddress>& addrs) {
    if (options_.cache_ttl <= Duration::zero() || options_.max_cache_entries == 0) return;
    const TimePoint expires = loop_->now() + options_.cache_ttl;
    auto it = cache_index_.find(key);
    if (it != cache_index_.end()) {
      it->second->addrs = addrs;
      it->second->expires = expires;
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    lru_.push_front(CacheEntry{key, addrs, expires});
    cache_index_.emplace(key, lru_.begin());
    while (cache_index_.size() > options_.max_cache_entries) {
      cache_index_.erase(lru_.back().key);
      lru_.pop_back();
    }
  }

  Loop* loop_;
  ResolverOptions options_;
  std::shared_ptr<const LookupFunction> lookup_;  // shared with the jobs in flight
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  std::unordered_map<Key, Lookup, KeyHash> inflight_;
  std::list<CacheEntry> lru_;
  std::unordered_map<Key, std::list<CacheEntry>::iterator, KeyHash> cache_index_;
  std::uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace detail

// ---- handles and awaiters ----------------------------------------------------------------

bool ResolveHandle::cancel() noexcept {
  if (id_ == 0) return false;
  auto state = state_.lock();
  const bool canceled = state && state->cancel(id_);
  id_ = 0;
  return canceled;
}

bool ResolveAwaiter::await_suspend(std::coroutine_handle<> h) {
  auto state = state_.lock();
  if (!state || token_.cancelled()) {
    ec_ = canceled_error();  // the Resolver is gone, or the token fired already
    return false;
  }
  handle_ = state->resolve(host_, port_, family_,
                           [this, h](std::error_code ec, std::span<const SocketAddress> addrs) {
                             handle_ = ResolveHandle();
                             reg_.detach();
                             ec_ = ec;
                             result_.assign(addrs.begin(), addrs.end());
                             h.resume();
                           });
  if (token_.can_be_cancelled()) {
    reg_.attach(token_, [this, h, &loop = state->loop()] {
      handle_.cancel();  // the lookup goes on for the others; ours is dropped
      handle_ = ResolveHandle();
      ec_ = canceled_error();
      deferred_.schedule(loop, h);
    });
  }
  return true;
}

std::vector<SocketAddress> ResolveAwaiter::await_resume() {
  if (ec_) throw std::system_error(ec_);
  return std::move(result_);
}

// ---- Resolver ----------------------------------------------------------------------------

Resolver::Resolver(Loop& loop, ResolverOptions options)
    : state_(std::make_shared<detail::ResolverState>(loop, std::move(options))) {}

Resolver::~Resolver() { state_->close(); }

ResolveHandle Resolver::resolve(std::string_view host, std::uint16_t port, ResolveCallback cb) {
  return state_->resolve(host, port, state_->options().family, std::move(cb));
}
ResolveHandle Resolver::resolve(std::string_view host, std::uint16_t port, AddressFamily family,
                                ResolveCallback cb) {
  return state_->resolve(host, port, family, std::move(cb));
}
ResolveAwaiter Resolver::resolve(std::string_view host, std::uint16_t port, CancelToken token) {
  return ResolveAwaiter(state_, std::string(host), port, state_->options().family,
                        std::move(token));
}
ResolveAwaiter Resolver::resolve(std::string_view host, std::uint16_t port, AddressFamily family,
                                 CancelToken token) {
  return ResolveAwaiter(state_, std::string(host), port, family, std::move(token));
}

void Resolver::clear_cache() noexcept { state_->clear_cache(); }
std::size_t Resolver::cache_size() const noexcept { return state_->cache_size(); }
std::size_t Resolver::lookups_in_flight() const noexcept { return state_->lookups_in_flight(); }
std::size_t Resolver::waiters() const noexcept { return state_->waiters(); }
Loop& Resolver::loop() const noexcept { return state_->loop(); }
const ResolverOptions& Resolver::options() const noexcept { return state_->options(); }

// ---- the per-loop default ------------------------------------------------------------------

namespace {

// The loop's default resolver, in the loop's own storage (Loop::local): made on first use,
// destroyed when the loop closes (before its handles are checked).
struct DefaultResolver {
  std::unique_ptr<Resolver> resolver;
};

}  // namespace

Resolver& default_resolver(Loop& loop) {
  auto& slot = loop.local<DefaultResolver>();
  if (!slot.resolver) slot.resolver = std::make_unique<Resolver>(loop, ResolverOptions{});
  return *slot.resolver;
}

Resolver& configure_default_resolver(Loop& loop, ResolverOptions options) {
  auto& slot = loop.local<DefaultResolver>();
  if (slot.resolver && slot.resolver->waiters() > 0) {
    throw std::logic_error("weft::net::configure_default_resolver: lookups are waiting");
  }
  slot.resolver.reset();
  slot.resolver = std::make_unique<Resolver>(loop, std::move(options));
  return *slot.resolver;
}

ResolveHandle resolve(Loop& loop, std::string_view host, std::uint16_t port, ResolveCallback cb) {
  return default_resolver(loop).resolve(host, port, std::move(cb));
}

ResolveAwaiter resolve(Loop& loop, std::string_view host, std::uint16_t port, CancelToken token) {
  return default_resolver(loop).resolve(host, port, std::move(token));
}

}  // namespace weft::net

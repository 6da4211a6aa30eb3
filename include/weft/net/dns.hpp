// DNS: host name lookup on the worker pool, with a small cache, de-duplication of
// identical lookups in flight, and a timeout.
//
// Lookups. resolve(host, port) calls getaddrinfo (the system resolver: /etc/hosts, then
// DNS as /etc/nsswitch.conf says) on the pool's `slow` class, never on the loop. The
// completion runs on the loop thread, never inside resolve(). Addresses come in
// getaddrinfo's order (RFC 6724), without duplicates, each with the requested port.
// Numeric hosts ("127.0.0.1", "::1", "[::1]", "fe80::1%lo") are parsed on the loop and
// never reach the pool; their answer is still delivered later (Loop::defer).
//
// Per Resolver (one per loop, or several with different options):
//  * De-duplication: a lookup of (host, family) while one for the same pair is in flight
//    joins it — one getaddrinfo, every waiter gets the result. The port is not part of
//    the key: "db:5432" and "db:80" share a lookup.
//  * Cache: a successful answer is kept for cache_ttl (getaddrinfo reports no TTL, so
//    this is a fixed time, 30 s by default, like a small local cache; 0 turns it off)
//    and at most max_cache_entries names (least recently used evicted). Failures are not
//    cached: the next lookup of a failing name asks again (concurrent ones still share
//    one call). A cache hit is delivered via Loop::defer, never inside resolve().
//  * Timeout: each waiter gets std::errc::timed_out after options.timeout (5 s by
//    default, measured on the loop's clock from its own resolve() call). getaddrinfo
//    itself cannot be interrupted: it runs to its end on the pool (keeping the loop
//    alive until then) and a success still fills the cache for the next lookup.
//
// Errors: getaddrinfo's EAI_* codes are errors of dns_category() ("weft.dns", messages
// from gai_strerror): dns_errc::host_not_found for an unknown name (EAI_NONAME),
// no_data for a name without an address of the family, try_again when the name server
// did not answer. EAI_SYSTEM becomes the errno (system category). Also timed_out,
// errc::queue_full (the pool refused the job), errc::work_threw (a custom lookup
// function threw), operation_canceled (the awaiter form only, when its Resolver is
// already gone).
//
// Cancellation and lifetime:
//  * ResolveHandle::cancel() drops one waiter: its callback is destroyed without being
//    called. The lookup goes on for the others (and for the cache).
//  * Destroying a Resolver drops every waiter the same way; lookups already on the pool
//    run to their end and their results are discarded. Nothing calls into freed memory:
//    completions hold weak references. A Resolver may be destroyed inside one of its own
//    callbacks, and after its loop (it then touches nothing of the loop).
//  * The coroutine form (co_await resolver.resolve(host, port)) unregisters its waiter
//    when the awaiting coroutine is destroyed while suspended. If the Resolver is
//    destroyed while a coroutine awaits it, that coroutine is not resumed (like every
//    other dropped callback); keep the Resolver alive while you await it.
//
// The per-loop default lives in the loop's own storage (Loop::local):
// default_resolver(loop) creates it on first use with default options, and the free
// functions resolve(loop, ...) and Stream::connect(host, port, ...) use it; it is destroyed
// when the loop closes (lookups still on the pool then finish and are discarded). Code that
// wants other options creates its own Resolver, or calls
// configure_default_resolver() before the loop's first lookup.
//
// Threads: everything here runs on the loop's thread, except ResolverOptions::lookup,
// which runs on pool threads (concurrently for different names).
#pragma once

#include <weft/cancel.hpp>
#include <weft/clock.hpp>
#include <weft/error.hpp>
#include <weft/function.hpp>
#include <weft/net/address.hpp>

#include <netdb.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace weft {
class Loop;
}  // namespace weft

namespace weft::net {

// getaddrinfo's errors; the values are the EAI_* codes themselves, so any EAI code
// (not only these) is an error of dns_category() with gai_strerror's message.
enum class dns_errc {
  host_not_found = EAI_NONAME,      // "Name or service not known"
  no_data = EAI_NODATA,             // the name has no address (of the requested family)
  try_again = EAI_AGAIN,            // temporary failure: the name server did not answer
  failure = EAI_FAIL,               // non-recoverable name server failure
  address_family = EAI_ADDRFAMILY,  // the host has no address of the requested family
  out_of_memory = EAI_MEMORY,
};

const std::error_category& dns_category() noexcept;

inline std::error_code make_error_code(dns_errc e) noexcept {
  return {static_cast<int>(e), dns_category()};
}

// An error_code for a getaddrinfo return value; EAI_SYSTEM takes sys_errno.
std::error_code dns_error(int eai, int sys_errno = 0) noexcept;

enum class AddressFamily : unsigned char { any, ipv4, ipv6 };

// The blocking lookup a Resolver runs on the pool: addresses for host with port 0, in
// preference order, or an error. Called on pool threads; must be thread-safe.
using LookupFunction = std::function<Result<std::vector<SocketAddress>>(const std::string& host,
                                                                        AddressFamily family)>;

// The default LookupFunction: getaddrinfo(host, nullptr, {family, SOCK_STREAM}).
// Blocking; for the pool only.
Result<std::vector<SocketAddress>> getaddrinfo_lookup(const std::string& host,
                                                      AddressFamily family);

struct ResolverOptions {
  Duration cache_ttl = std::chrono::seconds(30);  // zero: no cache
  std::size_t max_cache_entries = 1024;           // least recently used evicted past it
  Duration timeout = std::chrono::seconds(5);     // per resolve() call; zero: none
  AddressFamily family = AddressFamily::any;      // for resolve() calls without one
  LookupFunction lookup;                          // empty: getaddrinfo_lookup (tests inject)
};

// Receives the addresses (empty on error). Runs on the loop thread, exactly once,
// unless the waiter was canceled or its Resolver destroyed.
using ResolveCallback = Function<void(std::error_code, std::span<const SocketAddress>)>;

namespace detail {
class ResolverState;
}  // namespace detail

// Refers to one waiter; cheap to hold, safe to use after the Resolver died. Dropping
// it does not cancel.
class ResolveHandle {
 public:
  ResolveHandle() = default;
  ResolveHandle(std::weak_ptr<detail::ResolverState> state, std::uint64_t id) noexcept
      : state_(std::move(state)), id_(id) {}
  // Loop thread. Drops the waiter (its callback is destroyed, not called); true if it
  // was still waiting.
  bool cancel() noexcept;
  explicit operator bool() const noexcept { return id_ != 0; }

 private:
  std::weak_ptr<detail::ResolverState> state_;
  std::uint64_t id_ = 0;
};

// co_await resolver.resolve(host, port, token): the addresses, or throws
// std::system_error. Must be awaited where it was created (it must not move once
// suspended).
// Cancellation (token cancelled, or the awaiting coroutine destroyed): the waiter is
// dropped and the coroutine resumes at once — in the pending phase, with
// operation_canceled, when the token fired. A lookup still queued on the pool for no
// other waiter is removed; a running getaddrinfo cannot be stopped: it runs to its end
// on the pool (keeping the loop alive), its answer still fills the cache and goes to
// the other waiters of the same name, and is discarded for this one. A token already
// cancelled starts nothing.
class [[nodiscard]] ResolveAwaiter {
 public:
  ResolveAwaiter(std::weak_ptr<detail::ResolverState> state, std::string host, std::uint16_t port,
                 AddressFamily family, CancelToken token = {}) noexcept
      : state_(std::move(state)),
        host_(std::move(host)),
        port_(port),
        family_(family),
        token_(std::move(token)) {}
  ResolveAwaiter(ResolveAwaiter&&) = delete;  // holds a token registration: awaited in place
  ResolveAwaiter(const ResolveAwaiter&) = delete;
  ResolveAwaiter& operator=(const ResolveAwaiter&) = delete;
  ResolveAwaiter& operator=(ResolveAwaiter&&) = delete;
  ~ResolveAwaiter() { handle_.cancel(); }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  std::vector<SocketAddress> await_resume();

 private:
  std::weak_ptr<detail::ResolverState> state_;
  std::string host_;
  std::uint16_t port_;
  AddressFamily family_;
  CancelToken token_;
  CancelRegistration reg_;
  weft::detail::DeferredResume deferred_;
  ResolveHandle handle_;
  std::error_code ec_;
  std::vector<SocketAddress> result_;
};

class Resolver {
 public:
  explicit Resolver(Loop& loop, ResolverOptions options = {});
  // Drops every waiter (see the header comment); lookups on the pool finish unobserved.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Callback form; cb runs later on the loop thread (never inside resolve()).
  ResolveHandle resolve(std::string_view host, std::uint16_t port, ResolveCallback cb);
  ResolveHandle resolve(std::string_view host, std::uint16_t port, AddressFamily family,
                        ResolveCallback cb);
  // Coroutine form (see ResolveAwaiter for the token).
  ResolveAwaiter resolve(std::string_view host, std::uint16_t port, CancelToken token = {});
  ResolveAwaiter resolve(std::string_view host, std::uint16_t port, AddressFamily family,
                         CancelToken token = {});

  void clear_cache() noexcept;
  std::size_t cache_size() const noexcept;
  // Lookups running (or queued) on the pool, and waiters not yet called back.
  std::size_t lookups_in_flight() const noexcept;
  std::size_t waiters() const noexcept;

  Loop& loop() const noexcept;
  const ResolverOptions& options() const noexcept;

 private:
  std::shared_ptr<detail::ResolverState> state_;
};

// The loop's default resolver (created on first use; see the header comment).
Resolver& default_resolver(Loop& loop);
// Replaces the loop's default resolver with one using `options`. Throws std::logic_error
// if the current one has waiters (they would be dropped).
Resolver& configure_default_resolver(Loop& loop, ResolverOptions options);

// resolve() on the loop's default resolver.
ResolveHandle resolve(Loop& loop, std::string_view host, std::uint16_t port, ResolveCallback cb);
ResolveAwaiter resolve(Loop& loop, std::string_view host, std::uint16_t port,
                       CancelToken token = {});

}  // namespace weft::net

template <>
struct std::is_error_code_enum<weft::net::dns_errc> : std::true_type {};

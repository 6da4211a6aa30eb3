// tls_load: a single-threaded, epoll-driven TLS load generator for bench/tls (OpenSSL 3).
//
//   tls_load -p PORT -m MODE [-c CONNS] [-d SECONDS] [-r RATE] [-2] [-n NAME]
//
// MODE
//   full    each connection: TCP connect, a full TLS handshake (no session offered, no
//           ticket asked for), "GET /plaintext" with "Connection: close", the response,
//           close; then the next one. Prints handshakes per second.
//   resume  the same, but every connection after a slot's first offers the session (TLS
//           1.3 ticket or TLS 1.2 session) that slot's previous connection received
//           (SSL_set_session); counts how many the server really resumed.
//   ka      CONNS keep-alive connections (handshake untimed), each sending GET /plaintext
//           RATE times a second (0: as fast as responses come back, closed loop); prints
//           the latency of each request (sent -> whole response) p50/p99/max.
//   idle    opens CONNS connections, one request each, then holds them: prints
//           "READY ok=N" and waits for SIGUSR1 (or SIGTERM), then "OPEN n" and exits.
// -2: TLS 1.2 only (default: TLS 1.3 or 1.2, whatever the server picks: 1.3 here).
// The server's certificate is not verified (the benchmark's self-signed one); 127.0.0.1.
// Output: one line "key=value ..." on stdout (bench/tls/peers.sh parses it).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { FULL, RESUME, KA, IDLE };
enum state { CONNECTING, HANDSHAKE, SENDING, READING, WAITING, HELD };

struct conn {
  int fd;
  SSL* ssl;
  SSL_SESSION* sess;  // resume: the session to offer next
  enum state st;
  char buf[4096];
  size_t have;
  double sent_at, next_at;
};

static enum mode g_mode = FULL;
static int g_port, g_conns = 16, g_tls12;
static double g_secs = 10, g_rate;
static const char* g_name = "localhost";
static SSL_CTX* g_ctx;
static int g_ep;
static uint64_t g_done, g_resumed, g_errors, g_ok;
static double* g_lat;
static size_t g_nlat, g_caplat;
static volatile sig_atomic_t g_release;
// ka: latencies count from 0.2 s after every connection finished its handshake (the
// handshakes themselves are not what ka measures); 0 until then.
static double g_measure_from;
static int g_established;
// idle: connections are opened this many at a time (each next one once one is held), so
// the server holds idle connections, not thousands of handshakes in progress at once.
enum { kIdleWindow = 64 };
static int g_started;
static struct conn* g_all;

static const char kReqClose[] =
    "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
static const char kReqKa[] = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void watch(struct conn* c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data = {.ptr = c}};
  if (epoll_ctl(g_ep, op, c->fd, &ev) != 0 && op == EPOLL_CTL_MOD)
    epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void start(struct conn* c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->st = CONNECTING;
  c->have = 0;
  if (connect(c->fd, (struct sockaddr*)&a, sizeof a) != 0 && errno != EINPROGRESS) {
    if (g_errors++ == 0) perror("tls_load: connect");
    close(c->fd);
    c->fd = -1;
    if (g_mode == IDLE && g_started < g_conns) start(&g_all[g_started++]);
    return;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void finish(struct conn* c, int failed) {
  if (failed) g_errors++;
  if (c->ssl) {
    if (!failed) SSL_shutdown(c->ssl);  // close_notify, not waiting for the peer's
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (g_mode != IDLE) {
    start(c);
  } else if (failed && g_started < g_conns) {  // idle: a failed one stays counted in errors
    start(&g_all[g_started++]);
  }
}

// The response is complete once the header block and Content-Length bytes are in.
static int response_done(struct conn* c) {
  c->buf[c->have < sizeof c->buf ? c->have : sizeof c->buf - 1] = 0;
  char* end = strstr(c->buf, "\r\n\r\n");
  if (!end) return 0;
  char* cl = strcasestr(c->buf, "content-length:");
  size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
  return c->have >= (size_t)(end + 4 - c->buf) + body;
}

static void wait_for(struct conn* c, int ret) {
  int err = SSL_get_error(c->ssl, ret);
  if (err == SSL_ERROR_WANT_READ) {
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
  } else if (err == SSL_ERROR_WANT_WRITE) {
    watch(c, EPOLLOUT, EPOLL_CTL_MOD);
  } else {
    ERR_clear_error();
    finish(c, 1);
  }
}

static void send_request(struct conn* c) {
  const char* req = g_mode == KA || g_mode == IDLE ? kReqKa : kReqClose;
  int n = SSL_write(c->ssl, req, (int)strlen(req));
  if (n <= 0) return wait_for(c, n);  // (a small write completes or fails)
  c->sent_at = now_s();
  c->st = READING;
  c->have = 0;
  watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void record(double seconds) {
  if (g_nlat == g_caplat) {
    g_caplat = g_caplat ? g_caplat * 2 : 1 << 16;
    g_lat = realloc(g_lat, g_caplat * sizeof *g_lat);
  }
  g_lat[g_nlat++] = seconds;
}

static void step(struct conn* c) {
  if (c->st == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return finish(c, 1);
    c->ssl = SSL_new(g_ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, g_name);
    SSL_set_connect_state(c->ssl);
    if (g_mode == RESUME && c->sess) SSL_set_session(c->ssl, c->sess);
    c->st = HANDSHAKE;
  }
  if (c->st == HANDSHAKE) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) return wait_for(c, r);
    if (SSL_session_reused(c->ssl)) g_resumed++;
    if (g_mode == KA && ++g_established == g_conns) g_measure_from = now_s() + 0.2;
    if (g_mode != KA) g_done++;
    c->st = SENDING;
    if (g_mode == KA && g_rate > 0) {
      c->st = WAITING;
      c->next_at = now_s() + (double)(rand() % 1000) / 1000.0 / g_rate;  // spread the starts
      watch(c, 0, EPOLL_CTL_MOD);
      return;
    }
  }
  if (c->st == SENDING) return send_request(c);
  if (c->st == READING) {
    for (;;) {
      int n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof c->buf - 1 - c->have));
      if (n <= 0) {
        int err = SSL_get_error(c->ssl, n);
        ERR_clear_error();
        if (err == SSL_ERROR_WANT_READ) break;
        // close_notify or FIN: fine once the whole response is in (Connection: close)
        if (response_done(c) && g_mode != KA && g_mode != IDLE) break;
        return finish(c, 1);
      }
      c->have += (size_t)n;
      if (c->have >= sizeof c->buf - 1) return finish(c, 1);  // not our small response
    }
    if (!response_done(c)) return;
    if (g_mode != KA || (g_measure_from > 0 && c->sent_at >= g_measure_from)) g_ok++;
    if (g_mode == KA) {
      if (g_measure_from > 0 && c->sent_at >= g_measure_from) record(now_s() - c->sent_at);
      c->have = 0;
      if (g_rate > 0) {
        c->st = WAITING;
        c->next_at += 1.0 / g_rate;
        watch(c, 0, EPOLL_CTL_MOD);
        return;
      }
      c->st = SENDING;
      return send_request(c);
    }
    if (g_mode == IDLE) {
      if (g_started < g_conns) start(&g_all[g_started++]);
      c->st = HELD;
      watch(c, EPOLLIN, EPOLL_CTL_MOD);  // (to notice a close by the server)
      return;
    }
    if (g_mode == RESUME) {
      SSL_SESSION* s = SSL_get1_session(c->ssl);
      if (s && SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(c->sess);
        c->sess = s;
      } else {
        SSL_SESSION_free(s);
      }
    }
    return finish(c, 0);
  }
  if (c->st == WAITING) return finish(c, 1);  // only an error or hang-up is watched here
  if (c->st == HELD) {  // the server closed an idle connection (or sent something)
    char tmp[256];
    int n = SSL_read(c->ssl, tmp, sizeof tmp);
    if (n <= 0 && SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ) {
      SSL_free(c->ssl);
      c->ssl = NULL;
      close(c->fd);
      c->fd = -1;
      c->st = WAITING;  // counted as closed
    }
  }
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void on_signal(int sig) {
  (void)sig;
  g_release = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: tls_load -p PORT -m full|resume|ka|idle [-c CONNS] [-d SECONDS] [-r RATE] [-2] "
          "[-n SNI]\n");
  exit(2);
}

int main(int argc, char** argv) {
  int opt;
  while ((opt = getopt(argc, argv, "p:m:c:d:r:2n:")) != -1) {
    switch (opt) {
      case 'p':
        g_port = atoi(optarg);
        break;
      case 'm':
        if (!strcmp(optarg, "full"))
          g_mode = FULL;
        else if (!strcmp(optarg, "resume"))
          g_mode = RESUME;
        else if (!strcmp(optarg, "ka"))
          g_mode = KA;
        else if (!strcmp(optarg, "idle"))
          g_mode = IDLE;
        else
          usage();
        break;
      case 'c':
        g_conns = atoi(optarg);
        break;
      case 'd':
        g_secs = atof(optarg);
        break;
      case 'r':
        g_rate = atof(optarg);
        break;
      case '2':
        g_tls12 = 1;
        break;
      case 'n':
        g_name = optarg;
        break;
      default:
        usage();
    }
  }
  if (g_port <= 0 || g_conns <= 0 || g_secs <= 0) usage();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, on_signal);
  signal(SIGTERM, on_signal);
  g_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(g_ctx, TLS1_2_VERSION);
  if (g_tls12) SSL_CTX_set_max_proto_version(g_ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
  // full: no ticket asked for, no session kept (OpenSSL's client cache is off by default).
  if (g_mode == FULL) SSL_CTX_set_options(g_ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF);
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  struct conn* conns = calloc((size_t)g_conns, sizeof *conns);
  g_all = conns;
  g_started = g_mode == IDLE && g_conns > kIdleWindow ? kIdleWindow : g_conns;
  for (int i = 0; i < g_started; i++) start(&conns[i]);
  struct epoll_event evs[256];
  double t0 = now_s();
  double deadline = t0 + g_secs;
  int ka_clock_set = 0;
  int ready_printed = 0;
  for (;;) {
    double now = now_s();
    if (g_mode == KA && !ka_clock_set) {  // the measured time starts with g_measure_from
      if (g_measure_from > 0) {
        t0 = g_measure_from;
        deadline = t0 + g_secs;
        ka_clock_set = 1;
      } else if (now >= t0 + g_secs + 60) {
        fprintf(stderr, "tls_load: only %d of %d connections established in %.0f s\n",
                g_established, g_conns, g_secs + 60);
        return 1;
      } else {
        deadline = now + 1;
      }
    }
    if (g_mode != IDLE && now >= deadline) break;
    if (g_mode == IDLE) {
      if (!ready_printed && (g_ok + g_errors >= (uint64_t)g_conns || now >= deadline + 60)) {
        printf("READY ok=%llu errors=%llu\n", (unsigned long long)g_ok,
               (unsigned long long)g_errors);
        fflush(stdout);
        ready_printed = 1;
      }
      if (g_release) break;
    }
    int timeout = 100;
    if (g_mode == KA && g_rate > 0) timeout = 1;
    int n = epoll_wait(g_ep, evs, 256, timeout);
    for (int i = 0; i < n; i++) step(evs[i].data.ptr);
    if (g_mode == KA && g_rate > 0) {
      now = now_s();
      for (int i = 0; i < g_conns; i++) {
        if (conns[i].st == WAITING && conns[i].ssl && conns[i].next_at <= now) {
          conns[i].st = SENDING;
          send_request(&conns[i]);
        }
      }
    }
  }
  const double elapsed = now_s() - t0;
  if (g_mode == IDLE) {
    int open = 0;
    for (int i = 0; i < g_conns; i++) open += conns[i].st == HELD;
    printf("OPEN %d\n", open);
    return 0;
  }
  if (g_mode == KA) {
    qsort(g_lat, g_nlat, sizeof *g_lat, cmp);
    double p50 = g_nlat ? g_lat[g_nlat / 2] : 0,
           p99 = g_nlat ? g_lat[(size_t)((double)g_nlat * 0.99)] : 0;
    double mx = g_nlat ? g_lat[g_nlat - 1] : 0;
    printf("requests=%llu per_s=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%llu\n",
           (unsigned long long)g_ok, (double)g_ok / elapsed, p50 * 1e6, p99 * 1e6, mx * 1e6,
           (unsigned long long)g_errors);
  } else {
    printf("handshakes=%llu per_s=%.0f resumed=%llu responses=%llu errors=%llu\n",
           (unsigned long long)g_done, (double)g_done / elapsed, (unsigned long long)g_resumed,
           (unsigned long long)g_ok, (unsigned long long)g_errors);
  }
  return 0;
}

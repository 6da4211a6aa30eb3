/* idle_conns: hold many idle HTTP/1.1 keep-alive connections to a local server.
 *
 *   idle_conns PORT COUNT [PATH]
 *
 * Opens COUNT connections to 127.0.0.1:PORT (at most 256 connecting at a time so the
 * server's accept backlog never overflows), sends one "GET PATH" on each and reads the
 * whole response (Content-Length or chunked). Connections then stay open and idle.
 * When every connection has either completed or failed it prints
 *
 *   READY ok=<n> failed=<n> ms=<elapsed>
 *
 * and waits for SIGUSR1 (or SIGTERM/SIGINT). On the signal it checks how many of the
 * completed connections the server has not closed, prints "OPEN <n>", closes all (with a
 * RST: 10,000 TIME_WAIT entries per run would exhaust the ephemeral ports of the next) and
 * exits. The whole run is bounded: it gives up connecting after 60 s.
 *
 * Built by bench/http/run.sh with `cc -O2`; Linux only (epoll).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_READING, ST_DONE, ST_FAILED };
enum { MAX_INFLIGHT = 256, BUF_SIZE = 2048 };

struct conn {
  int fd;
  int state;
  size_t len;
  char buf[BUF_SIZE];
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 1 = complete response in c->buf, 0 = need more, -1 = malformed/unsupported. */
static int response_complete(struct conn* c) {
  c->buf[c->len] = '\0';
  char* end = strstr(c->buf, "\r\n\r\n");
  if (!end) return c->len >= BUF_SIZE - 1 ? -1 : 0;
  if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) return -1;
  size_t head = (size_t)(end - c->buf) + 4;
  for (char* p = strstr(c->buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
    char* line = p + 2;
    if (strncasecmp(line, "content-length:", 15) == 0) {
      size_t body = strtoul(line + 15, NULL, 10);
      return c->len >= head + body ? 1 : 0;
    }
    if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
      return strstr(end, "\r\n0\r\n\r\n") != NULL ? 1 : 0;
    }
  }
  return -1; /* neither length nor chunked: would be close-delimited, not keep-alive */
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT COUNT [PATH]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int count = atoi(argv[2]);
  const char* path = argc > 3 ? argv[3] : "/plaintext";
  char req[512];
  int req_len =
      snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if ((rlim_t)count + 16 > rl.rlim_cur) {
    fprintf(stderr, "idle_conns: fd limit %lu too low for %d connections\n",
            (unsigned long)rl.rlim_cur, count);
    return 2;
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigprocmask(SIG_BLOCK, &sigs, NULL);

  struct conn* conns = calloc((size_t)count, sizeof *conns);
  if (!conns) {
    perror("calloc");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);

  int started = 0, done = 0, failed = 0;
  double t0 = now_ms(), deadline = t0 + 60000;
  struct epoll_event evs[256];
  while (done + failed < count && now_ms() < deadline) {
    while (started < count && started - done - failed < MAX_INFLIGHT) {
      struct conn* c = &conns[started++];
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0) {
        perror("socket");
        c->state = ST_FAILED;
        failed++;
        continue;
      }
      int one = 1;
      setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(c->fd, (struct sockaddr*)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        perror("connect");
        close(c->fd);
        c->fd = -1;
        c->state = ST_FAILED;
        failed++;
        continue;
      }
      c->state = ST_CONNECTING;
      struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    int n = epoll_wait(ep, evs, 256, 1000);
    for (int i = 0; i < n; i++) {
      struct conn* c = evs[i].data.ptr;
      int ok = 1;
      if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err != 0 || send(c->fd, req, (size_t)req_len, MSG_NOSIGNAL) != req_len) {
          ok = 0;
        } else {
          c->state = ST_READING;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      } else if (c->state == ST_READING) {
        ssize_t r = recv(c->fd, c->buf + c->len, BUF_SIZE - 1 - c->len, 0);
        if (r > 0) {
          c->len += (size_t)r;
          int st = response_complete(c);
          if (st == 1) {
            c->state = ST_DONE;
            done++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          } else if (st < 0) {
            ok = 0;
          }
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          ok = 0;
        }
      }
      if (!ok) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        c->state = ST_FAILED;
        failed++;
      }
    }
  }
  failed = count - done; /* anything unfinished at the deadline counts as failed */
  printf("READY ok=%d failed=%d ms=%.0f\n", done, failed, now_ms() - t0);
  fflush(stdout);

  int sig = 0;
  sigwait(&sigs, &sig);

  int open = 0;
  char b;
  for (int i = 0; i < count; i++) {
    struct conn* c = &conns[i];
    if (c->state != ST_DONE) continue;
    ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) open++;
  }
  printf("OPEN %d\n", open);
  fflush(stdout);
  for (int i = 0; i < count; i++)
    if (conns[i].fd > 0) { /* RST, not FIN: no TIME_WAIT entry per connection on this side */
      struct linger lg = {1, 0};
      setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(conns[i].fd);
    }
  return 0;
}

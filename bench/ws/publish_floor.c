// publish_floor: kernel+syscall floor of a "publish" fan-out: one small message sent to each of
// N loopback TCP connections, sender CPU per subscriber.
//
// One binary, two processes: the parent (sender, pinned to CPU 0) listens on 127.0.0.1,
// forks the receiver (pinned to CPU 1) which opens N connections and reads everything with
// epoll, signalling on a pipe once every connection received the round's message.
// Per round the sender reads its CPU time (CLOCK_PROCESS_CPUTIME_ID, sum of
// /proc/self/task/*/schedstat, getrusage user/sys), sends LEN bytes to every socket, reads
// its CPU time again, then waits for the receiver's confirmation and reads it once more.
//
//   publish_floor [--n 10000] [--rounds 10] [--len 36] [--mode send|sendmsg|write|uring]
//            [--nodelay 0|1] [--batch 256] [--fixed 0|1] [--coop 0|1] [--warmup 1]
//
// With CONFIG_IRQ_TIME_ACCOUNTING off (this kernel), softirq work done on the way out of the
// sender's syscalls (loopback: netif_rx -> do_softirq -> tcp_v4_rcv of the receiving socket,
// wakeup of the receiver) is charged to the sender's run time and to its stime. Softirq that
// spills to ksoftirqd/0 is not; its run time is reported separately.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_URING
#include <liburing.h>
#endif

static int N = 10000, ROUNDS = 10, LEN = 36, NODELAY = 0, BATCH = 256, FIXED = 0, COOP = 0,
           WARMUP = 1, RSPIN = 0, HANDSHAKE = 0;
#define REQ_LEN 120
#define RESP_LEN 129
static const char* MODE = "send";

static void die(const char* m) {
  perror(m);
  exit(1);
}

static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s)) die("sched_setaffinity");
}

static uint64_t ts_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static uint64_t read_schedstat(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  unsigned long long a = 0;
  if (fscanf(f, "%llu", &a) != 1) a = 0;
  fclose(f);
  return a;
}

static uint64_t self_schedstat(void) {  // sum over threads (io_uring io-wq workers too)
  DIR* d = opendir("/proc/self/task");
  uint64_t s = 0;
  struct dirent* e;
  char p[128];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "/proc/self/task/%s/schedstat", e->d_name);
    s += read_schedstat(p);
  }
  closedir(d);
  return s;
}

static char ksoftirqd_path[64];
static void find_ksoftirqd0(void) {
  DIR* d = opendir("/proc");
  struct dirent* e;
  char p[300], c[64];
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(p, sizeof p, "/proc/%s/comm", e->d_name);
    FILE* f = fopen(p, "r");
    if (!f) continue;
    if (fgets(c, sizeof c, f) && strcmp(c, "ksoftirqd/0\n") == 0)
      snprintf(ksoftirqd_path, sizeof ksoftirqd_path, "/proc/%s/schedstat", e->d_name);
    fclose(f);
  }
  closedir(d);
}

static void cpu0_stat(unsigned long long* sys, unsigned long long* softirq) {
  FILE* f = fopen("/proc/stat", "r");
  char line[512];
  *sys = *softirq = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long u, n, s, i, w, irq, sirq;
    if (sscanf(line, "cpu0 %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &i, &w, &irq, &sirq) ==
        7) {
      *sys = s;
      *softirq = sirq;
      break;
    }
  }
  fclose(f);
}

static uint64_t tv_us(struct timeval t) { return (uint64_t)t.tv_sec * 1000000ull + t.tv_usec; }

typedef struct {
  uint64_t cpu, sched, ut, st, wall;
} snap;
static snap take(void) {
  snap s;
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  s.wall = ts_ns(CLOCK_MONOTONIC);
  s.cpu = ts_ns(CLOCK_PROCESS_CPUTIME_ID);
  s.sched = self_schedstat();
  s.ut = tv_us(r.ru_utime);
  s.st = tv_us(r.ru_stime);
  return s;
}

// ---------------------------------------------------------------- receiver (child)
static void receiver(int port, int ctl_w, int go_r) {
  pin(1);
  int ep = epoll_create1(0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int* fds = calloc(N, sizeof(int));
  uint32_t* got = calloc(N, sizeof(uint32_t));
  for (int i = 0; i < N; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("recv socket");
    if (connect(fd, (struct sockaddr*)&a, sizeof a)) die("connect");
    fds[i] = fd;
  }
  if (HANDSHAKE) {  // like a WebSocket upgrade: a request from the client, a response from the
                    // server
    char q[REQ_LEN];
    memset(q, 'q', sizeof q);
    for (int i = 0; i < N; ++i)
      if (write(fds[i], q, REQ_LEN) != REQ_LEN) die("req write");
    for (int i = 0; i < N; ++i) {
      char b[RESP_LEN];
      int got_ = 0;
      while (got_ < RESP_LEN) {
        ssize_t n = read(fds[i], b + got_, RESP_LEN - got_);
        if (n <= 0) die("resp read");
        got_ += n;
      }
    }
  }
  for (int i = 0; i < N; ++i) {
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) die("epoll_ctl");
  }
  char c = 'R';
  if (write(ctl_w, &c, 1) != 1) die("ctl write");
  int total_rounds = ROUNDS + WARMUP;
  struct epoll_event evs[512];
  char buf[4096];
  for (int r = 0; r < total_rounds; ++r) {
    uint32_t want = (uint32_t)LEN * (r + 1);
    int done = 0;
    while (done < N) {
      int k = epoll_wait(ep, evs, 512, RSPIN ? 0 : -1);
      if (k < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int j = 0; j < k; ++j) {
        int i = evs[j].data.u32;
        for (;;) {
          ssize_t n = recv(fds[i], buf, sizeof buf, 0);
          if (n > 0) {
            uint32_t before = got[i];
            got[i] += n;
            if (before < want && got[i] >= want) ++done;
            if ((size_t)n < sizeof buf) break;
            continue;
          }
          if (n == 0) {
            fprintf(stderr, "receiver: EOF\n");
            exit(1);
          }
          if (errno == EAGAIN) break;
          die("recv");
        }
      }
    }
    c = 'D';
    if (write(ctl_w, &c, 1) != 1) die("ctl write");
  }
  if (read(go_r, &c, 1) < 0) {
  }  // wait until the sender is done before closing
  exit(0);
}

// ---------------------------------------------------------------- sender (parent)
static int* sfd;
static char msg[4096];
#ifdef HAVE_URING
static struct io_uring ring;
#endif

static int send_all(void) {  // returns number of short/failed sends
  int bad = 0;
  if (!strcmp(MODE, "send")) {
    for (int i = 0; i < N; ++i)
      if (send(sfd[i], msg, LEN, MSG_DONTWAIT | MSG_NOSIGNAL) != LEN) ++bad;
  } else if (!strcmp(MODE, "sendmsg")) {
    struct iovec v = {msg, (size_t)LEN};
    struct msghdr h = {.msg_iov = &v, .msg_iovlen = 1};
    for (int i = 0; i < N; ++i)
      if (sendmsg(sfd[i], &h, MSG_DONTWAIT | MSG_NOSIGNAL) != LEN) ++bad;
  } else if (!strcmp(MODE, "write")) {
    for (int i = 0; i < N; ++i)
      if (write(sfd[i], msg, LEN) != LEN) ++bad;
#ifdef HAVE_URING
  } else if (!strcmp(MODE, "uring")) {
    for (int i = 0; i < N; i += BATCH) {
      int m = N - i < BATCH ? N - i : BATCH;
      for (int j = 0; j < m; ++j) {
        struct io_uring_sqe* q = io_uring_get_sqe(&ring);
        if (FIXED) {
          io_uring_prep_send(q, i + j, msg, LEN, MSG_DONTWAIT | MSG_NOSIGNAL);
          q->flags |= IOSQE_FIXED_FILE;
        } else
          io_uring_prep_send(q, sfd[i + j], msg, LEN, MSG_DONTWAIT | MSG_NOSIGNAL);
      }
      int s = io_uring_submit_and_wait(&ring, m);
      if (s != m) {
        fprintf(stderr, "submit %d\n", s);
        exit(1);
      }
      unsigned head, seen = 0;
      struct io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring, head, cqe) {
        if (cqe->res != LEN) ++bad;
        ++seen;
      }
      io_uring_cq_advance(&ring, seen);
      if ((int)seen != m) {
        fprintf(stderr, "cqes %u of %d\n", seen, m);
        exit(1);
      }
    }
#endif
  } else {
    fprintf(stderr, "unknown mode %s\n", MODE);
    exit(2);
  }
  return bad;
}

static int cmp_d(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--n"))
      N = atoi(v);
    else if (!strcmp(k, "--rounds"))
      ROUNDS = atoi(v);
    else if (!strcmp(k, "--len"))
      LEN = atoi(v);
    else if (!strcmp(k, "--mode"))
      MODE = v;
    else if (!strcmp(k, "--nodelay"))
      NODELAY = atoi(v);
    else if (!strcmp(k, "--batch"))
      BATCH = atoi(v);
    else if (!strcmp(k, "--fixed"))
      FIXED = atoi(v);
    else if (!strcmp(k, "--coop"))
      COOP = atoi(v);
    else if (!strcmp(k, "--warmup"))
      WARMUP = atoi(v);
    else if (!strcmp(k, "--rspin"))
      RSPIN = atoi(v);
    else if (!strcmp(k, "--handshake"))
      HANDSHAKE = atoi(v);
    else {
      fprintf(stderr, "unknown option %s\n", k);
      return 2;
    }
  }
  struct rlimit rl = {65536, 65536};
  if (setrlimit(RLIMIT_NOFILE, &rl)) {
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  memset(msg, 'x', sizeof msg);
  msg[0] = (char)0x81;
  msg[1] = (char)(LEN - 2);  // a WS text frame header
  pin(0);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&a, sizeof a)) die("bind");
  if (listen(ls, 4096)) die("listen");
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr*)&a, &al);
  int ctl[2], go[2];
  if (pipe(ctl) || pipe(go)) die("pipe");
  pid_t child = fork();
  if (child == 0) {
    close(ctl[0]);
    close(go[1]);
    close(ls);
    receiver(ntohs(a.sin_port), ctl[1], go[0]);
  }
  close(ctl[1]);
  close(go[0]);
  sfd = calloc(N, sizeof(int));
  for (int i = 0; i < N; ++i) {
    int fd = accept4(ls, NULL, NULL, 0);
    if (fd < 0) die("accept");
    if (NODELAY) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sfd[i] = fd;
  }
  if (HANDSHAKE) {
    char r[RESP_LEN];
    memset(r, 'r', sizeof r);
    for (int i = 0; i < N; ++i) {
      char b[REQ_LEN];
      int got_ = 0;
      while (got_ < REQ_LEN) {
        ssize_t n = read(sfd[i], b + got_, REQ_LEN - got_);
        if (n <= 0) die("req read");
        got_ += n;
      }
      if (write(sfd[i], r, RESP_LEN) != RESP_LEN) die("resp write");
    }
  }
  for (int i = 0; i < N; ++i) fcntl(sfd[i], F_SETFL, O_NONBLOCK);
  char c;
  if (read(ctl[0], &c, 1) != 1 || c != 'R') {
    fprintf(stderr, "receiver not ready\n");
    return 1;
  }
#ifdef HAVE_URING
  if (!strcmp(MODE, "uring")) {
    struct io_uring_params p = {0};
    if (COOP) p.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * BATCH > 4096 ? 2 * BATCH : 4096;
    int e = io_uring_queue_init_params(BATCH, &ring, &p);
    if (e) {
      errno = -e;
      die("io_uring_queue_init");
    }
    if (FIXED) {
      e = io_uring_register_files(&ring, sfd, N);
      if (e) {
        errno = -e;
        die("register_files");
      }
    }
  }
#endif
  find_ksoftirqd0();
  usleep(300000);
  double per_sub[1024], per_sub_round[1024];
  uint64_t sum_ut = 0, sum_st = 0, sum_cpu = 0;
  unsigned long long sys0, sirq0, sys1, sirq1;
  uint64_t ksi0 = 0, ksi1 = 0;
  printf("# handshake=%d rspin=%d mode=%s nodelay=%d n=%d len=%d batch=%d fixed=%d coop=%d\n",
         HANDSHAKE, RSPIN, MODE, NODELAY, N, LEN, !strcmp(MODE, "uring") ? BATCH : 0, FIXED, COOP);
  printf(
      "round send_cpu_us send_sched_us user_us sys_us round_cpu_us wall_to_all_us us_per_sub "
      "bad\n");
  for (int r = 0; r < ROUNDS + WARMUP; ++r) {
    if (r == WARMUP) {
      cpu0_stat(&sys0, &sirq0);
      if (ksoftirqd_path[0]) ksi0 = read_schedstat(ksoftirqd_path);
    }
    snap s0 = take();
    int bad = send_all();
    snap s1 = take();
    if (read(ctl[0], &c, 1) != 1 || c != 'D') {
      fprintf(stderr, "receiver died\n");
      return 1;
    }
    snap s2 = take();
    double cpu = (s1.cpu - s0.cpu) / 1e3, sch = (s1.sched - s0.sched) / 1e3;
    printf("%s%d %.0f %.0f %llu %llu %.0f %.0f %.3f %d\n", r < WARMUP ? "w" : "", r, cpu, sch,
           (unsigned long long)(s1.ut - s0.ut), (unsigned long long)(s1.st - s0.st),
           (s2.cpu - s0.cpu) / 1e3, (s2.wall - s0.wall) / 1e3, cpu / N, bad);
    if (r >= WARMUP) {
      per_sub[r - WARMUP] = cpu / N;
      per_sub_round[r - WARMUP] = (s2.cpu - s0.cpu) / 1e3 / N;
      sum_ut += s1.ut - s0.ut;
      sum_st += s1.st - s0.st;
      sum_cpu += s1.cpu - s0.cpu;
    }
  }
  cpu0_stat(&sys1, &sirq1);
  if (ksoftirqd_path[0]) ksi1 = read_schedstat(ksoftirqd_path);
  qsort(per_sub, ROUNDS, sizeof(double), cmp_d);
  qsort(per_sub_round, ROUNDS, sizeof(double), cmp_d);
  double med =
      ROUNDS % 2 ? per_sub[ROUNDS / 2] : (per_sub[ROUNDS / 2 - 1] + per_sub[ROUNDS / 2]) / 2;
  double medr = ROUNDS % 2 ? per_sub_round[ROUNDS / 2]
                           : (per_sub_round[ROUNDS / 2 - 1] + per_sub_round[ROUNDS / 2]) / 2;
  printf(
      "SUMMARY handshake=%d rspin=%d mode=%s nodelay=%d batch=%d fixed=%d coop=%d "
      "median_us_per_sub=%.3f min=%.3f max=%.3f "
      "median_round_us_per_sub=%.3f sys_share=%.2f cpu0_sys_ticks=%llu cpu0_softirq_ticks=%llu "
      "ksoftirqd0_us=%.0f\n",
      HANDSHAKE, RSPIN, MODE, NODELAY, !strcmp(MODE, "uring") ? BATCH : 0, FIXED, COOP, med,
      per_sub[0], per_sub[ROUNDS - 1], medr,
      (sum_ut + sum_st) ? (double)sum_st / (sum_ut + sum_st) : 0, sys1 - sys0, sirq1 - sirq0,
      (ksi1 - ksi0) / 1e3);
  (void)sum_cpu;
  c = 'Q';
  if (write(go[1], &c, 1) != 1) {
  }
  int st;
  waitpid(child, &st, 0);
  return 0;
}

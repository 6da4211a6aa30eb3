#!/usr/bin/env python3
"""Scaling out, tested: three weft-serve instances behind HAProxy on one PostgreSQL.

Starts a private PostgreSQL (initdb + pg_ctl in a temp dir, its own port), three
weft-serve instances (each in its own network namespace with its own address, or on
127.0.0.2-4 where namespaces are not permitted: detected and said), and HAProxy in front.
Then 2,000 writes through the balancer from 20 concurrent clients while SSE subscribers on
every instance listen; in the middle one instance is killed with SIGKILL and, later,
PostgreSQL is restarted. It checks:
  * every subscriber receives every change exactly once, in commit order per collection
    (the ids of weft_changes, and each client's own writes in the order they were
    acknowledged);
  * no acknowledged write (201, or 409 on a retry of a write whose answer was lost) is
    missing from the database afterwards;
  * the balancer routes around the dead instance (its state in HAProxy's stats), the
    subscribers of the dead instance reconnect through the balancer and catch up with
    `since`, the subscribers of the surviving instances miss nothing;
  * writes while PostgreSQL is down fail fast with weft-serve's 503 (never 500, none
    acknowledged), and the instances' change-feed listeners reconnect with backoff, as
    /_weft/stats shows (feed.listener: connected, failures, backoff_ms, connects).

Python 3 standard library only. Everything it starts (namespaces, veth pairs, processes,
the PostgreSQL directory) is removed on every exit path (finally, atexit, SIGINT/SIGTERM);
scripts/cluster-demo adds a shell trap for the namespaces as a second line.

  cluster_driver.py --serve build/debug/apps/weft-serve/weft-serve [--quiet] [--mode auto|netns|loopback]
Exit status 0 when every check passed, 1 when one failed, 2 when the setup failed.
"""

import argparse
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

from cluster_setup import (CLEANUP, OUTPUT, T0, Haproxy, Instance, Network, Postgres, SetupError, log,
                           on_signal)

# ---- clients ----------------------------------------------------------------------------------

COLLECTIONS = ["posts", "comments", "orders", "events"]


class Subscriber(threading.Thread):
    """One SSE subscription (one collection) opened on `home`; when its stream ends it
    reconnects with since=<last id> — to `home` while it lives, else through the balancer."""

    def __init__(self, home, collection, lb):
        super().__init__(daemon=True)
        self.home, self.collection, self.lb = home, collection, lb
        self.received = []  # (change id, doc_id, op)
        self.last = 0
        self.connections = []  # (seconds since start, "host:port")
        self.reloads = 0
        self.failures = []  # why a (re)connect or a stream ended
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.conn = None

    def target(self):
        if self.home.killed:
            return self.lb
        return self.home.host, self.home.port

    def run(self):
        while not self.stopping.is_set():
            host, port = self.target()
            c = http.client.HTTPConnection(host, port, timeout=5)
            self.conn = c
            try:
                c.request("GET", f"/api/{self.collection}/_changes?since={self.last}",
                          headers={"Accept": "text/event-stream"})
                r = c.getresponse()
                if r.status != 200:
                    self.failures.append(f"{host}:{port} answered {r.status}")
                    r.read()
                else:
                    self.connections.append((round(time.monotonic() - T0, 2), f"{host}:{port}"))
                    self.ready.set()
                    self.read_events(r)
                    if not self.stopping.is_set():
                        self.failures.append(f"{host}:{port}: stream ended")
            except (OSError, http.client.HTTPException) as e:
                if not self.stopping.is_set():
                    self.failures.append(f"{host}:{port}: {type(e).__name__}: {e}")
            finally:
                c.close()
            if not self.stopping.is_set():
                time.sleep(0.05)

    def read_events(self, r):
        ev_id, ev_type, data = None, "message", []
        while not self.stopping.is_set():
            line = r.readline()
            if not line:
                return
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    self.on_event(ev_id, ev_type, "\n".join(data))
                ev_id, ev_type, data = None, "message", []
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "id":
                    ev_id = value
                elif field == "event":
                    ev_type = value
                elif field == "data":
                    data.append(value)

    def on_event(self, ev_id, ev_type, data):
        if ev_type == "reload":
            self.reloads += 1
            self.last = int(ev_id)
            return
        d = json.loads(data)
        self.received.append((int(d["id"]), str(d["doc_id"]), d["op"]))
        self.last = int(d["id"])

    def stop(self):
        self.stopping.set()
        c = self.conn
        if c is not None and c.sock is not None:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Progress:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = 0

    def add(self):
        with self.lock:
            self.acked += 1


class Writer(threading.Thread):
    """Client c's writes, one at a time, each POST /api/<collection> with its own id
    ("c07-0042"), through the balancer. An attempt whose outcome is unknown (5xx, a broken
    connection) is retried with the same id: 201, or 409 for a retry (an earlier attempt
    committed), acknowledges it."""

    def __init__(self, c, count, lb, progress, deadline):
        super().__init__(daemon=True)
        self.c, self.count, self.lb, self.progress, self.deadline = c, count, lb, progress, deadline
        self.attempts = []  # (t0, t1, status (0: no answer), kind: weft|proxy|error)
        self.acked = []     # (doc_id, collection, status) in acknowledgement order
        self.problem = None

    def run(self):
        conn = None
        for n in range(self.count):
            doc_id = f"c{self.c:02d}-{n:04d}"
            col = COLLECTIONS[(self.c + n) % len(COLLECTIONS)]
            body = json.dumps({"id": doc_id, "client": self.c, "n": n, "text": "x" * (n % 50)})
            retried = False
            while True:
                if time.monotonic() > self.deadline:
                    self.problem = f"{doc_id} not acknowledged before the deadline"
                    return
                t0 = time.monotonic()
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(*self.lb, timeout=10)
                    conn.request("POST", f"/api/{col}", body, {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    status, ctype = r.status, r.getheader("Content-Type", "")
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    self.attempts.append((t0, time.monotonic(), 0, "error"))
                    retried = True
                    time.sleep(0.02)
                    continue
                kind = "weft" if ctype.startswith("application/json") else "proxy"
                self.attempts.append((t0, time.monotonic(), status, kind))
                if status == 201 or (status == 409 and retried):
                    self.acked.append((doc_id, col, status))
                    self.progress.add()
                    break
                if status == 409 or status < 500:
                    self.problem = f"{doc_id}: unexpected {status} on its first attempt"
                    return
                retried = True
                time.sleep(0.02)
        if conn is not None:
            conn.close()


# ---- the scenario -----------------------------------------------------------------------------

def wait_for(pred, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(0.02)
    raise SetupError(f"timed out after {seconds} s waiting for {what}")


class Check:
    def __init__(self):
        self.failed = []

    def __call__(self, ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failed.append(what)


def listener_snapshot(instances):
    out = {}
    for w in instances:
        if w.killed:
            continue
        try:
            out[w.name] = w.listener()
        except (OSError, ValueError, http.client.HTTPException) as e:
            out[w.name] = {"error": str(e)}
    return out


def run_scenario(args, workdir):
    net = Network(3, args.mode)
    if net.mode == "netns":
        log(f"mode: netns — each instance in its own network namespace ({', '.join(net.namespaces)}), "
            f"10.{net.octet}.i.2 over a veth pair", always=True)
    else:
        log(f"mode: loopback — instances on 127.0.0.2-4 ({net.reason})", always=True)

    pg = Postgres(net.pg_listen(), net.client_net())
    pg.start()
    CLEANUP.add("stop PostgreSQL", lambda: pg.stop(check=False))
    log(f"PostgreSQL {pg.bin.split('/')[-2]} on port {pg.port} (data in {pg.dir}), listening on {', '.join(pg.listen)}")

    instances = [Instance(1, net, args.serve, pg, workdir)]
    instances[0].wait_ready()  # the first one runs the migrations alone
    instances += [Instance(i, net, args.serve, pg, workdir) for i in (2, 3)]
    for w in instances[1:]:
        w.wait_ready()
    log("weft-serve instances: " + ", ".join(f"{w.name}={w.address()} (pid {w.proc.pid})" for w in instances))

    hap = Haproxy(instances, workdir)
    hap.wait_states({w.name: "UP" for w in instances})
    lb = ("127.0.0.1", hap.port)
    log(f"HAProxy on 127.0.0.1:{hap.port}, servers {hap.server_states()}")

    subs = [Subscriber(w, col, lb) for w in instances for col in COLLECTIONS]
    for s in subs:
        s.start()
    wait_for(lambda: all(s.ready.is_set() for s in subs), 15, "every subscriber's stream")
    log(f"{len(subs)} SSE subscribers open ({len(COLLECTIONS)} collections x {len(instances)} instances)")

    total = args.writes
    progress = Progress()
    t_writes = time.monotonic()
    deadline = t_writes + 45  # (normally ~5 s; the whole run stays under ctest's 110 s)
    per = [total // args.clients + (1 if c < total % args.clients else 0) for c in range(args.clients)]
    writers = [Writer(c, per[c], lb, progress, deadline) for c in range(args.clients)]
    for wr in writers:
        wr.start()
    log(f"{total} writes from {args.clients} clients through the balancer")

    ev = {}
    victim = instances[1]
    wait_for(lambda: progress.acked >= total * 3 // 10 or not any(w.is_alive() for w in writers), 60, "30% of the writes")
    victim.kill()
    ev["kill"] = time.monotonic()
    log(f"SIGKILL {victim.name} (pid {victim.proc.pid}) after {progress.acked} acknowledged writes")
    hap.wait_states({victim.name: "DOWN"}, 10)
    ev["down"] = time.monotonic()
    log(f"HAProxy marked {victim.name} DOWN {1000 * (ev['down'] - ev['kill']):.0f} ms later: {hap.server_states()}")

    wait_for(lambda: progress.acked >= total * 6 // 10 or not any(w.is_alive() for w in writers), 60, "60% of the writes")
    before = listener_snapshot(instances)
    acked_at_stop = progress.acked
    pg.stop()
    ev["pg_down"] = time.monotonic()
    acked_at_down = progress.acked
    log(f"PostgreSQL stopped after {acked_at_stop} acknowledged writes (pg_ctl stop -m fast; "
        f"{acked_at_down - acked_at_stop} more were acknowledged while it shut down)")
    during = []
    while time.monotonic() < ev["pg_down"] + args.outage:
        during.append(listener_snapshot(instances))
        time.sleep(0.2)
    acked_during = progress.acked - acked_at_down
    ev["pg_starting"] = time.monotonic()
    pg.start()
    ev["pg_up"] = time.monotonic()
    log(f"PostgreSQL started again after {ev['pg_up'] - ev['pg_down']:.2f} s down")

    def reconnected():
        now = listener_snapshot(instances)
        return all(v.get("connected") and v.get("connects", 0) > before.get(k, {}).get("connects", 0)
                   for k, v in now.items())
    try:
        ev["listeners_back"] = wait_for(reconnected, 10, "the listeners to reconnect")
    except SetupError:
        pass
    after = listener_snapshot(instances)
    log(f"listeners after the restart: {after}")

    for wr in writers:
        wr.join(max(0.0, deadline - time.monotonic()) + 1)
    t_done = time.monotonic()
    log(f"writers done: {progress.acked} acknowledged in {t_done - t_writes:.2f} s")

    changes = pg.query("SELECT id, collection, doc_id, op FROM weft_changes ORDER BY id")
    docs = {(c, i) for c, i in pg.query("SELECT collection, id FROM weft_documents")}
    expected = {col: [] for col in COLLECTIONS}
    for cid, col, doc_id, op in changes:
        expected.setdefault(col, []).append((int(cid), doc_id, op))
    tops = {col: (ids[-1][0] if ids else 0) for col, ids in expected.items()}
    try:
        wait_for(lambda: all(s.last >= tops[s.collection] for s in subs if s.is_alive()), 10,
                 "the subscribers to receive the last change")
    except SetupError:
        pass
    for s in subs:
        s.stop()
    for s in subs:
        s.join(5)
    log(f"subscribers stopped ({time.monotonic() - t_done:.2f} s after the last write)")

    # ---- checks ----
    check = Check()
    print("checks:", flush=True)
    acked = [a for wr in writers for a in wr.acked]
    problems = [wr.problem for wr in writers if wr.problem]
    check(not problems and len(acked) == total,
          f"all {total} writes acknowledged ({len(acked)}; {sum(1 for a in acked if a[2] == 409)} by a 409 on retry)"
          + (f": {problems[:3]}" if problems else ""))
    missing = [a for a in acked if (a[1], a[0]) not in docs]
    check(not missing, f"every acknowledged write is in the database ({len(acked) - len(missing)}/{len(acked)})"
          + (f"; missing {missing[:5]}" if missing else ""))
    check(len(changes) == len(docs) == total and all(c[3] == "create" for c in changes),
          f"the database holds exactly the {total} documents and one change each ({len(docs)} documents, "
          f"{len(changes)} changes)")
    change_of = {(col, doc_id): int(cid) for cid, col, doc_id, _ in changes}
    disorder = []
    for wr in writers:
        ids = [change_of.get((col, d), -1) for d, col, _ in wr.acked]
        if any(b <= a for a, b in zip(ids, ids[1:])):
            disorder.append(wr.c)
    check(not disorder, "each client's writes have change ids in the order they were acknowledged"
          + (f" (not clients {disorder})" if disorder else ""))

    bad_subs = []
    for s in subs:
        want = expected.get(s.collection, [])
        if s.received != want or s.reloads:
            got_ids = [r[0] for r in s.received]
            dups = len(got_ids) - len(set(got_ids))
            bad_subs.append(f"{s.home.name}/{s.collection}: {len(s.received)} received ({dups} duplicates, "
                            f"{s.reloads} reloads), {len(want)} expected, sorted={got_ids == sorted(got_ids)}")
    check(not bad_subs, f"all {len(subs)} subscribers received every change of their collection exactly once, "
          f"in commit order ({len(changes)} changes, {sum(len(s.received) for s in subs)} deliveries)"
          + (f": {bad_subs[:4]}" if bad_subs else ""))
    moved = [s for s in subs if s.home is victim]
    check(all(len(s.connections) >= 2 and s.connections[-1][1] == f"{lb[0]}:{lb[1]}" for s in moved),
          f"{victim.name}'s {len(moved)} subscribers reconnected through the balancer and caught up with since "
          f"(connections: {[len(s.connections) for s in moved]})")
    survivors = [s for s in subs if s.home is not victim]
    check(all(s.received == expected.get(s.collection, []) for s in survivors),
          f"the {len(survivors)} subscribers of the surviving instances missed nothing (reconnects: "
          f"{sum(len(s.connections) - 1 for s in survivors)}; reasons: "
          f"{sorted(set(f.split(': ', 1)[-1][:60] for s in survivors for f in s.failures))[:4]})")

    attempts = [a for wr in writers for a in wr.attempts]
    statuses = {}
    for _, _, st, kind in attempts:
        statuses[f"{st or 'no answer'}/{kind}"] = statuses.get(f"{st or 'no answer'}/{kind}", 0) + 1
    log(f"attempts by status: {dict(sorted(statuses.items()))}", always=True)
    outage = [a for a in attempts if a[0] >= ev["pg_down"] and a[1] <= ev["pg_starting"]]
    out_ok = [a for a in outage if a[2] == 503 and a[3] == "weft"]
    worst = max((a[1] - a[0] for a in outage), default=0)
    check(outage and len(out_ok) == len(outage) and worst < 1.0,
          f"writes while PostgreSQL was down failed fast with weft-serve's 503: {len(out_ok)}/{len(outage)}, "
          f"slowest {1000 * worst:.0f} ms; acknowledged meanwhile: {acked_during}")
    acked_in_outage = [a for a in outage if a[2] in (200, 201, 409)]
    check(not acked_in_outage, f"no write sent while PostgreSQL was down was acknowledged ({len(acked_in_outage)}; "
          f"acknowledgements that arrived meanwhile: {acked_during})")
    fivehundred = [a for a in attempts if a[2] == 500]
    check(not fivehundred, f"no 500 answer at all ({len(fivehundred)})")
    def expected_answer(a):
        return a[2] in (201, 409) or (a[2] == 503 and a[3] == "weft")
    stray = [a for a in attempts if not expected_answer(a) and not (ev["kill"] - 0.5 <= a[0] <= ev["down"] + 1)]
    around_kill = [a for a in attempts if not expected_answer(a) and a not in stray]
    check(not stray, f"no other failure outside the SIGKILL moment (there: {len(around_kill)} answered by the "
          f"balancer or broken)" + (f": {[(round(a[0] - T0, 2), a[2], a[3]) for a in stray[:4]]}" if stray else ""))
    alive = [w for w in instances if w is not victim]
    check(all(w.proc.poll() is None for w in alive), "the surviving instances are still running "
          + str({w.name: w.proc.poll() for w in alive}))
    after_kill = [a for a in attempts if a[0] > ev["down"] and a[2] in (201, 409)]
    check(len(after_kill) > 0, f"the balancer routed around {victim.name}: {len(after_kill)} writes acknowledged "
          f"after it was marked DOWN")

    saw_down = {k: any(d.get(k, {}).get("connected") is False for d in during) for k in before}
    saw_backoff = {k: max((d.get(k, {}).get("backoff_ms") or 0 for d in during), default=0) for k in before}
    back = {k: bool(after.get(k, {}).get("connected")) and after[k].get("connects", 0) > before[k].get("connects", 0)
            for k in before}
    check(all(saw_down.values()) and all(v > 0 for v in saw_backoff.values()) and all(back.values()),
          f"/_weft/stats feed.listener showed the outage and the reconnection: disconnected {saw_down}, "
          f"backoff_ms {saw_backoff}, reconnected {back}, after {after}")
    rate = total / (t_done - t_writes)
    log(f"{total} writes in {t_done - t_writes:.2f} s ({rate:.0f}/s, including a {args.outage:.1f} s outage)",
        always=True)
    return check.failed


def dump_logs(workdir):
    for name in sorted(os.listdir(workdir)):
        if name.endswith(".log"):
            with open(os.path.join(workdir, name)) as f:
                print(f"--- {name} (last lines)\n" + "".join(f.readlines()[-15:]), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--serve", required=True, help="the weft-serve binary")
    p.add_argument("--mode", choices=["auto", "netns", "loopback"], default="auto",
                   help="auto: namespaces when permitted, else 127.0.0.2-4")
    p.add_argument("--writes", type=int, default=2000)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--outage", type=float, default=1.5, help="seconds PostgreSQL stays down")
    p.add_argument("--quiet", action="store_true", help="only the mode, the checks and the figures")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, haproxy.cfg)")
    args = p.parse_args()
    OUTPUT["verbose"] = not args.quiet
    if not os.access(args.serve, os.X_OK):
        print(f"cluster: {args.serve} is not an executable weft-serve", file=sys.stderr)
        return 2
    if not shutil.which("haproxy"):
        print("cluster: haproxy not found: apt-get install haproxy (scripts/install-deps)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(CLEANUP.run)
    workdir = tempfile.mkdtemp(prefix="weft-cluster-")
    if args.keep:
        print(f"cluster: work directory {workdir} is kept", flush=True)
    else:
        CLEANUP.add("remove the work directory", lambda: shutil.rmtree(workdir, ignore_errors=True))
    try:
        failed = run_scenario(args, workdir)
        if failed:
            dump_logs(workdir)
    except SetupError as e:
        print(f"cluster: setup failed: {e}", file=sys.stderr, flush=True)
        dump_logs(workdir)
        return 2
    finally:
        CLEANUP.run()
    print(f"cluster: {'PASSED' if not failed else 'FAILED: ' + '; '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

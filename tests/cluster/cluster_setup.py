"""The pieces cluster_driver.py starts: a private PostgreSQL, the network (namespaces with
veth pairs, or loopback addresses), weft-serve instances and HAProxy, and the cleanup that
removes all of them on every exit path. Python 3 standard library only."""

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

T0 = time.monotonic()
OUTPUT = {"verbose": True}  # cluster_driver.py's --quiet turns it off


def log(msg, always=False):
    if OUTPUT["verbose"] or always:
        print(f"[{time.monotonic() - T0:6.2f}s] {msg}", flush=True)


class SetupError(Exception):
    pass


# ---- cleanup ---------------------------------------------------------------------------------

class Cleanup:
    """Undo actions, run once in reverse order, whatever the exit path."""

    def __init__(self):
        self.actions = []
        self.lock = threading.Lock()
        self.done = False

    def add(self, what, fn):
        self.actions.append((what, fn))

    def run(self):
        with self.lock:
            if self.done:
                return
            self.done = True
        for what, fn in reversed(self.actions):
            try:
                fn()
            except Exception as e:  # keep cleaning: one failure must not leak the rest
                print(f"cleanup: {what}: {e}", file=sys.stderr)


CLEANUP = Cleanup()


def on_signal(signum, _frame):
    CLEANUP.run()
    sys.exit(128 + signum)


def run(argv, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and r.returncode != 0:
        raise SetupError(f"{' '.join(argv)} failed ({r.returncode}): {r.stdout.strip()}")
    return r


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- PostgreSQL --------------------------------------------------------------------------------

class Postgres:
    """A private server: initdb into its own temp dir (owned by the `postgres` OS user when
    we are root: the server refuses to run as root), trust authentication, its own port."""

    def __init__(self, listen, client_net):
        versions = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int) \
            if os.path.isdir("/usr/lib/postgresql") else []
        if not versions:
            raise SetupError("PostgreSQL server binaries not found: apt-get install postgresql")
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.dir = tempfile.mkdtemp(prefix="weft-cluster-pg-")
        CLEANUP.add("remove the PostgreSQL directory", lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.as_postgres = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.listen = listen
        self.data = os.path.join(self.dir, "data")
        run(self.as_postgres + [f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                                "-E", "UTF8", "--locale=C"], cwd=self.dir)
        if client_net:  # the instances' namespaces reach the server through their veth links
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write(f"host all all {client_net} trust\n")

    def url(self, host):
        return f"postgres://postgres@{host}:{self.port}/postgres"

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses='{','.join(self.listen)}'"
        run(self.as_postgres + [f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                                "-w", "-t", "30", "-o", opts, "start"], cwd=self.dir)

    def stop(self, check=True):
        run(self.as_postgres + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"],
            check=check, cwd=self.dir)

    def query(self, sql):
        r = run(["psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-At",
                 "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        return [line.split("\t") for line in r.stdout.splitlines() if line]


# ---- network: namespaces or loopback addresses -------------------------------------------------

class Network:
    """Three instance addresses. netns: namespace i has veth <ns side> 10.X.i.2/24, the root
    side is 10.X.i.1/24 (PostgreSQL listens there, HAProxy connects to 10.X.i.2).
    loopback: 127.0.0.2-4, PostgreSQL on 127.0.0.1."""

    def __init__(self, n, want):
        self.n = n
        self.tag = f"wc{os.getpid()}"
        self.namespaces = []
        self.reason = ""
        self.mode = "loopback"
        if want == "loopback":
            self.reason = "asked for (--mode loopback)"
        elif os.geteuid() != 0:
            self.reason = "not root: network namespaces need CAP_SYS_ADMIN"
        elif not shutil.which("ip"):
            self.reason = "no `ip` (iproute2)"
        else:
            try:
                self.setup_netns()
                self.mode = "netns"
            except SetupError as e:
                self.teardown()
                self.reason = f"namespaces not permitted here: {e}"
        if want == "netns" and self.mode != "netns":
            raise SetupError(f"--mode netns: {self.reason}")

    def pick_subnet(self):
        used = run(["ip", "-4", "-o", "addr"]).stdout
        for second in range(213, 254):
            if f" 10.{second}." not in used:
                return second
        raise SetupError("no free 10.x.0.0/16 for the veth links")

    def setup_netns(self):
        self.octet = self.pick_subnet()
        for i in range(1, self.n + 1):
            ns = f"{self.tag}-{i}"
            host_if, ns_if = f"{self.tag}h{i}", f"{self.tag}n{i}"
            run(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if])
            run(["ip", "link", "set", ns_if, "netns", ns])
            run(["ip", "addr", "add", f"10.{self.octet}.{i}.1/24", "dev", host_if])
            run(["ip", "link", "set", host_if, "up"])
            for cmd in (["ip", "addr", "add", f"10.{self.octet}.{i}.2/24", "dev", ns_if],
                        ["ip", "link", "set", ns_if, "up"], ["ip", "link", "set", "lo", "up"]):
                run(["ip", "netns", "exec", ns] + cmd)
        CLEANUP.add("delete the network namespaces", self.teardown)

    def teardown(self):
        for i, ns in enumerate(self.namespaces, 1):
            run(["ip", "link", "del", f"{self.tag}h{i}"], check=False)  # (gone with its peer, usually)
            run(["ip", "netns", "del", ns], check=False)
        self.namespaces = []

    def instance_host(self, i):
        return f"10.{self.octet}.{i}.2" if self.mode == "netns" else f"127.0.0.{i + 1}"

    def db_host(self, i):
        return f"10.{self.octet}.{i}.1" if self.mode == "netns" else "127.0.0.1"

    def pg_listen(self):
        if self.mode == "netns":
            return ["127.0.0.1"] + [f"10.{self.octet}.{i}.1" for i in range(1, self.n + 1)]
        return ["127.0.0.1"]

    def client_net(self):
        return f"10.{self.octet}.0.0/16" if self.mode == "netns" else None

    def prefix(self, i):
        return ["ip", "netns", "exec", self.namespaces[i - 1]] if self.mode == "netns" else []


# ---- processes ------------------------------------------------------------------------------------

# /_weft/ answers loopback clients only, or a token: the instances get this one (a file),
# since in namespaces the driver and HAProxy are not on their loopback.
OBSERVE_TOKEN = os.urandom(16).hex()


def http_get(host, port, path, timeout=2.0):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Authorization": f"Bearer {OBSERVE_TOKEN}"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Instance:
    def __init__(self, i, net, serve, pg, workdir):
        self.i = i
        self.name = f"w{i}"
        self.host = net.instance_host(i)
        self.port = 8080 if net.mode == "netns" else free_port(self.host)
        self.log_path = os.path.join(workdir, f"{self.name}.log")
        token_file = os.path.join(workdir, "observe-token")
        if not os.path.exists(token_file):
            with open(token_file, "w") as f:
                f.write(OBSERVE_TOKEN)
        argv = net.prefix(i) + [serve, "--host", self.host, "--port", str(self.port),
                                "--db", pg.url(net.db_host(i)), "--observe-token-file", token_file,
                                "--feed-heartbeat-ms", "500", "--changes-history", "1000000"]
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        CLEANUP.add(f"stop {self.name}", self.stop)
        self.killed = False

    def address(self):
        return f"{self.host}:{self.port}"

    def wait_ready(self, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"{self.name} exited ({self.proc.returncode}); log:\n{self.tail()}")
            try:
                if http_get(self.host, self.port, "/_weft/stats", 1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SetupError(f"{self.name} not ready after {seconds} s; log:\n{self.tail()}")

    def stats(self):
        status, body = http_get(self.host, self.port, "/_weft/stats", 2.0)
        if status != 200:
            raise OSError(f"/_weft/stats answered {status}")
        return json.loads(body)

    def listener(self):
        s = self.stats()
        feed = s.get("feed") or next((v["feed"] for v in s.values() if isinstance(v, dict) and "feed" in v), None)
        return (feed or {}).get("listener") or {}

    def kill(self):
        self.killed = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def tail(self, n=20):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Haproxy:
    def __init__(self, instances, workdir):
        self.port = free_port()
        self.sock = os.path.join(workdir, "haproxy.sock")
        cfg = os.path.join(workdir, "haproxy.cfg")
        servers = "\n".join(f"  server {w.name} {w.address()}" for w in instances)
        with open(cfg, "w") as f:
            f.write(f"""global
  maxconn 4096
  stats socket {self.sock} mode 600 level admin
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  # SSE streams and WebSocket tunnels stay open for long (the feed's heartbeat keeps them busy)
  timeout tunnel 1h
  timeout http-keep-alive 10s
  # a connection refused by a dead instance is tried again on another one
  retries 3
  option redispatch 1
frontend weft
  bind 127.0.0.1:{self.port}
  default_backend instances
backend instances
  balance roundrobin
  # the health check (a static page) does not touch the database: a PostgreSQL outage must
  # not take every instance out (weft-serve answers 503 itself then)
  option httpchk
  http-check send meth GET uri / ver HTTP/1.1 hdr Host weft
  http-check expect status 200
  default-server check inter 250ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
{servers}
""")
        self.log_path = os.path.join(workdir, "haproxy.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        CLEANUP.add("stop haproxy", self.stop)

    def server_states(self):
        """{server name: status} from HAProxy's stats (UP, DOWN, ...)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(self.sock)
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "backend" or row.get("svname") in ("FRONTEND", "BACKEND"):
                continue
            if row.get("pxname") == "instances":
                out[row["svname"]] = row["status"]
        return out

    def wait_states(self, want, seconds=10):
        deadline = time.monotonic() + seconds
        states = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"haproxy exited ({self.proc.returncode}); see {self.log_path}")
            try:
                states = self.server_states()
                if all(states.get(k, "").startswith(v) for k, v in want.items()):
                    return states
            except OSError:
                pass
            time.sleep(0.05)
        raise SetupError(f"haproxy servers {states}, wanted {want}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()

#!/usr/bin/env python3
"""idle_conns.py: hold many idle HTTP/1.1 keep-alive connections, opened in a burst.

    idle_conns.py PORT COUNT [PATH] [--over SECONDS]

The arrival pattern differs from idle_conns.c on purpose: connections are started at an
even rate over about --over seconds (default 1) without a cap on how many are connecting
at once, and each sends its request ("GET PATH") as soon as its connect completes, so the
server accepts, reads and answers while new connections keep arriving. Each reads its
whole response (Content-Length only, which every server measured here sends) and then
stays open and idle. Then, like idle_conns.c, it prints

    READY ok=<n> failed=<n> ms=<elapsed>

waits for SIGUSR1 (or SIGTERM/SIGINT), prints "OPEN <n>" (completed connections the
server has not closed), closes everything (with a RST, so that no TIME_WAIT entries are
left to exhaust the next run's ephemeral ports) and exits. Bounded: it gives up after 60 s.
Standard library only; Linux (epoll via selectors).
"""
import errno
import resource
import selectors
import signal
import socket
import struct
import sys
import time


def raise_nofile(count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else count + 100
    if soft == resource.RLIM_INFINITY or soft >= count + 100:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def response_complete(buf):
    """True once buf holds a whole response; raises ValueError if it is not a 200."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    if not buf.startswith(b"HTTP/1.1 200"):
        raise ValueError(buf[:40])
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= end + 4 + length


def main():
    args = [a for a in sys.argv[1:]]
    over = 1.0
    if "--over" in args:
        i = args.index("--over")
        over = float(args[i + 1])
        del args[i:i + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    port, count = int(args[0]), int(args[1])
    path = args[2] if len(args) > 2 else "/"
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: idle_conns.py\r\n"
               "Accept: */*\r\n\r\n" % (path, port)).encode()
    raise_nofile(count)

    sel = selectors.DefaultSelector()
    state = {}  # socket -> bytearray of the response so far (None once complete)
    done, failed, started = [], 0, 0
    t0 = time.monotonic()
    deadline = t0 + 60

    def fail(s):
        nonlocal failed
        failed += 1
        sel.unregister(s)
        s.close()
        del state[s]

    while (started < count or state) and time.monotonic() < deadline:
        # Start the connections due by now (an even rate over `over` seconds).
        due = count if over <= 0 else min(count, int((time.monotonic() - t0) / over * count) + 1)
        while started < due:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            started += 1
            rc = s.connect_ex(("127.0.0.1", port))
            if rc not in (0, errno.EINPROGRESS):
                failed += 1
                s.close()
                continue
            state[s] = None  # connecting
            sel.register(s, selectors.EVENT_WRITE)
        for key, events in sel.select(timeout=0.001):
            s = key.fileobj
            if state[s] is None:  # connected (or failed): send the request at once
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    fail(s)
                    continue
                try:
                    s.send(request)
                except OSError:
                    fail(s)
                    continue
                state[s] = bytearray()
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                fail(s)
                continue
            if not chunk:
                fail(s)
                continue
            state[s] += chunk
            try:
                complete = response_complete(bytes(state[s]))
            except ValueError:
                fail(s)
                continue
            if complete:
                sel.unregister(s)
                del state[s]
                done.append(s)
    for s in list(state):
        fail(s)
    print("READY ok=%d failed=%d ms=%d" % (len(done), failed, (time.monotonic() - t0) * 1000),
          flush=True)

    got = []
    for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: got.append(1))
    while not got:
        signal.pause()
    still_open = 0
    for s in done:
        try:
            s.setblocking(False)
            data = s.recv(1, socket.MSG_PEEK)
            if data:
                still_open += 1  # unexpected bytes, but open
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
    print("OPEN %d" % still_open, flush=True)
    # RST, not FIN: 10,000 TIME_WAIT entries per run would exhaust the ephemeral ports of
    # the next run (as idle_conns.c does).
    linger = struct.pack("ii", 1, 0)
    for s in done:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/tls/report.py RESULTS.tsv START DURATION FLOOD_CONNS KA_RATE IDLE_CONNS: peers.sh's
Markdown report. Rows of RESULTS: run server scenario a b c d extra (see peers.sh's emit)."""
import collections
import os
import platform
import sys

res_path, start, duration, flood_conns, ka_rate, idle_conns = sys.argv[1:7]
rows = collections.defaultdict(dict)  # (scenario, run) -> server -> fields
servers = []
for line in open(res_path):
    f = line.rstrip('\n').split('\t')
    run, server, scen = f[0], f[1], f[2]
    extra = dict(kv.split('=', 1) for kv in f[7].split() if '=' in kv)
    rows[(scen, run)][server] = {'a': f[3], 'b': f[4], 'c': f[5], 'd': f[6], 'x': extra, 'raw': f[7]}
    if server not in servers:
        servers.append(server)
runs = sorted({r for (_, r) in rows})


def has(scen):
    return any(sc == scen for (sc, _) in rows)


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ratio(a, b):
    a, b = num(a), num(b)
    return f"{a / b:.2f}×" if a and b else "–"


def fmt_us(v):
    v = num(v)
    if v is None:
        return "–"
    return f"{v:.0f} µs" if v < 1000 else f"{v / 1000:.2f} ms"


def peers_ratios(scen, key, label):
    out = []
    for peer in ("nginx", "node"):
        if peer not in servers:
            continue
        for w in ("weft", "weft-pool", "weft-inline"):
            if w not in servers:
                continue
            vals = [ratio(rows[(scen, r)].get(w, {}).get(key), rows[(scen, r)].get(peer, {}).get(key)) for r in runs]
            out.append(f"{label} {w} ÷ {peer}: " + " / ".join(vals) + " (runs " + ", ".join(runs) + ")")
    return out


cpu = next((l.split(': ', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
print(f"### Run of {start}\n")
if os.environ.get("LOADAVG"):
    print(f"Load average (1/5/15 min) at the start → at the end: {os.environ['LOADAVG']}\n")
print(f"`bench/tls/peers.sh --duration {duration} --runs {len(runs)} --flood-conns {flood_conns} --ka-rate {ka_rate} "
      f"--idle-conns {idle_conns}`; {cpu}, Linux {platform.release()}; servers on CPU 0, load generators on CPU 1; "
      f"{len(runs)} runs, a fresh server per scenario.\n")

def section_ka():
    print("**a. Keep-alive HTTPS GET /plaintext, 50 connections (wrk -t1 -c50, ECDSA P-256)**\n")
    print("| run | server | req/s | p50 | p99 | server CPU µs/req |")
    print("|---|---|---:|---:|---:|---:|")
    for r in runs:
        for s in servers:
            v = rows[('ka', r)].get(s)
            if v:
                print(f"| {r} | {s} | {num(v['a']):,.0f} | {fmt_us(v['c'])} | {fmt_us(v['d'])} | {v['b']} |")
    print()
    for l in peers_ratios('ka', 'b', 'CPU µs/req'):
        print(f"- {l}")
    print()


def section_hs():
    print("**b/c. Handshakes per second: a new connection and one request each (tls_load -c 16); "
          "full = no session offered, resume = the previous connection's session offered (RSA-2048)**\n")
    print("| run | server | full ECDSA /s | CPU µs each | full RSA /s | CPU µs each | resumed /s | CPU µs each | resumed of offered | loop lag p99 ms (ECDSA / RSA / resume) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        for s in servers:
            e, k, m = (rows[(sc, r)].get(s) for sc in ('full-ec', 'full-rsa', 'resume'))
            if not (e and k and m):
                continue
            lag = " / ".join(x['x'].get('lag_p99_ms', '-') for x in (e, k, m))
            print(f"| {r} | {s} | {num(e['a']):,.0f} | {e['b']} | {num(k['a']):,.0f} | {k['b']} | {num(m['a']):,.0f} | {m['b']} "
                  f"| {m['x'].get('resumed', '?')} | {lag if s.startswith('weft') else '–'} |")
    print()
    for sc, label in (('full-ec', 'full ECDSA handshakes/s'), ('full-rsa', 'full RSA handshakes/s'), ('resume', 'resumed handshakes/s')):
        for l in peers_ratios(sc, 'a', label):
            print(f"- {l}")
    print()

def section_flood():
    print(f"**d. Flood: 100 keep-alive connections × {ka_rate} requests/s each (tls_load -m ka), alone and while "
          f"tls_load -m full -c {flood_conns} makes new RSA-2048 handshakes as fast as it can**\n")
    print("| run | server | unloaded p50 | unloaded p99 | flood p50 | flood p99 | flood max | p99 flood ÷ unloaded | handshakes/s during flood | loop lag p99 ms (unloaded / flood) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        for s in servers:
            u, f = rows[('flood-unloaded', r)].get(s), rows[('flood', r)].get(s)
            if not (u and f):
                continue
            lag = f"{u['x'].get('lag_p99_ms', '-')} / {f['x'].get('lag_p99_ms', '-')}" if s.startswith('weft') else '–'
            print(f"| {r} | {s} | {fmt_us(u['c'])} | {fmt_us(u['d'])} | {fmt_us(f['c'])} | {fmt_us(f['d'])} | "
                  f"{fmt_us(f['x'].get('max_us'))} | {ratio(f['d'], u['d'])} | {num(f['x'].get('handshakes_per_s')) or 0:,.0f} | {lag} |")
    print()

def section_idle():
        print(f"**e. Idle TLS connections ({idle_conns}, ECDSA; each made one request and stays open)**\n")
        print("| run | server | connections | RSS before MiB | RSS after MiB | bytes/conn | VmHWM MiB |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in runs:
            for s in servers:
                v = rows[('idle', r)].get(s)
                if v:
                    print(f"| {r} | {s} | {v['a']} | {num(v['c']) / 1024:.1f} | {num(v['d']) / 1024:.1f} | {v['b']} | "
                          f"{num(v['x'].get('hwm_kb')) / 1024:.1f} |")
        print()
        for l in peers_ratios('idle', 'b', 'bytes/conn'):
            print(f"- {l}")


for name, fn in (('ka', section_ka), ('full-ec', section_hs), ('flood', section_flood), ('idle', section_idle)):
    if has(name):
        fn()

#!/usr/bin/env python3
"""bench/tls/callgrind_calls.py DUMP FN...: prints the dump's total instructions (Ir) and, for
each FN, how many times it was called (summed over its call sites), on one line."""
import re
import sys

path, wanted = sys.argv[1], sys.argv[2:]
names = {}  # compressed id -> name
calls = dict.fromkeys(wanted, 0)
total = 0
pending = None  # the name of the cfn= just read
for line in open(path, errors="replace"):
    m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(2):
            names[m.group(1)] = m.group(2).strip()
        pending = names.get(m.group(1)) if line.startswith("cfn=") else None
        continue
    if line.startswith("calls=") and pending in calls:
        calls[pending] += int(line.split("=", 1)[1].split()[0])
        pending = None
        continue
    if line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
print(total, *(calls[f] for f in wanted))

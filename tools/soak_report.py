#!/usr/bin/env python3
"""tools/soak_report.py: the summary table of a tools/soak.sh run, from what its parts left in DIR.

Reads results.json (tools/soak_load.py), restarts.log (lines "kill T", "up T", "exited T STATUS"
written by soak.sh), metrics.N.txt (the last /metrics scrape of the edge's life N), origin-stats.json
and edge-stop.txt. Prints the table and writes it to the markdown file given. Exit status 1 when any
response broke the invariant or the edge exited without being killed; else 0.

A connection error counts as expected when it overlaps a restart window: from the kill -9 to one
second after the restarted edge answered its first health check.

Usage: soak_report.py DIR SUMMARY.md DURATION
"""
import collections
import glob
import json
import os
import sys


def main():
    d, out, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    res = json.load(open(os.path.join(d, "results.json")))
    c = collections.Counter(res["counts"])
    windows, crashes, kill_t = [], [], None
    for line in open(os.path.join(d, "restarts.log")):
        f = line.split()
        if f[0] in ("kill", "exited"):
            kill_t = float(f[1])
            if f[0] == "exited":
                crashes.append(line.strip())
        elif f[0] == "up" and kill_t is not None:
            windows.append((kill_t - 0.05, float(f[1]) + 1.0))
            kill_t = None
    if kill_t is not None:
        windows.append((kill_t - 0.05, float("inf")))
    errs = collections.Counter()
    for t0, t1, kind, _path in res["errors"]:
        during = any(a <= t1 and t0 <= b for a, b in windows)
        errs[(kind, "during restart" if during else "outside restart")] += 1
    evictions = []
    for m in sorted(glob.glob(os.path.join(d, "metrics.*.txt")), key=lambda p: int(p.split(".")[-2])):
        v = 0
        for line in open(m):
            if line.startswith("edgecache_store_evictions_total "):
                v = int(float(line.split()[1]))
        evictions.append(v)
    try:
        origin = json.load(open(os.path.join(d, "origin-stats.json")))
    except (OSError, ValueError):
        origin = {}
    stop = open(os.path.join(d, "edge-stop.txt")).read().strip() if os.path.exists(os.path.join(d, "edge-stop.txt")) else "?"

    rows = []

    def row(k, v):
        rows.append((k, str(v)))

    row("duration asked / run", "%d s / %.0f s" % (duration, res["t_end"] - res["t_start"]))
    row("client threads, URLs", "%d, %d" % (res["clients"], res["urls"]))
    row("requests", c["requests"])
    for k in sorted(k for k in c if k.startswith("method:")):
        row("  " + k[7:], c[k])
    for k in sorted(k for k in c if k.startswith("status:")):
        row("  status " + k[7:], c[k])
    for k in sorted(k for k in c if k.startswith("xcache:")):
        row("  X-Cache " + k[7:], c[k])
    for k in sorted(k for k in c if k.startswith("http-error:")):
        row("  error status " + k[11:], c[k])
    for (kind, when), n in sorted(errs.items()):
        row("  error %s, %s" % (kind, when), n)
    purges = collections.Counter(p.get("outcome") for p in res["purges"])
    row("purges posted", len(res["purges"]))
    for k in sorted(k for k in c if k.startswith("purge:")):
        row("  " + k[6:], c[k])
    for k in sorted(k for k in c if k.startswith("purge-error:")):
        row("  error " + k[12:], c[k])
    row("restarts (kill -9)", sum(1 for w in windows))
    row("edge exits not caused by the soak", len(crashes))
    row("edge stop at the end", stop)
    row("evictions (/metrics, per edge life)", "%d (%s)" % (sum(evictions), " + ".join(map(str, evictions)) or "-"))
    for k in ("requests", "answered", "not_modified", "flap_503", "resets", "stalls", "refuse_periods",
              "flap_503_periods", "bumps"):
        if k in origin:
            row("origin " + k.replace("_", " "), origin[k])
    for k in sorted(k for k in c if k.startswith("info:")):
        row("info: " + k[5:].replace("-", " "), c[k])
    viol = sum(v for k, v in c.items() if k.startswith("violation:"))
    for k in sorted(k for k in c if k.startswith("violation:")):
        row("  violation " + k[10:], c[k])
    row("INVARIANT VIOLATIONS", viol)

    w = max(len(k) for k, _ in rows)
    text = "\n".join("%-*s  %s" % (w, k, v) for k, v in rows)
    print(text)
    md = ["# Soak summary", "", "| figure | value |", "|---|---|"]
    md += ["| %s | %s |" % (k.replace("|", "/"), v.replace("|", "/")) for k, v in rows]
    if crashes:
        md += ["", "Edge exits not caused by the soak:", ""] + ["- " + x for x in crashes]
    if viol:
        md += ["", "Violations: see %s/violations.jsonl" % d]
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")
    return 1 if viol or crashes else 0


if __name__ == "__main__":
    sys.exit(main())

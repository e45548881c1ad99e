#!/usr/bin/env python3
"""bench/startup_probe.py: restarts edgecache on a filled cache and times each start (bench/startup.sh).

Per run: optionally drop data.mdb from the page cache (posix_fadvise DONTNEED on the file only, so the
rest of the machine keeps its cache), take the time, fork+exec `edgecache serve`, and poll a stored
object every 10 ms (a fresh connection per poll, as a load balancer's first request would be) until an
answer is a 200 with `x-cache: HIT`: that is the start time. Then the RSS, then a sample of SAMPLE
random stored objects over one keep-alive connection (each must be a 200 HIT, and the origin's access
log must not grow), then SIGTERM and the time to exit.

Prints one line per run to stderr and a Markdown table of the runs, with medians, on stdout. Exit 1
when a run never answered a HIT, or a sampled object was not a HIT, or the origin was asked anything.
"""
import argparse
import http.client
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def resident_bytes(path):
    """Bytes of `path` in the page cache (util-linux fincore), or -1 when unknown."""
    try:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                             capture_output=True, text=True, check=True).stdout.split()
        return int(out[0])
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return -1


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def poll_once(port, path):
    """(status, x-cache) of GET path on a fresh connection; None when the edge does not answer yet."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return None
    try:
        # (the Host with its port, as wrk and http.client send it: the edge keys on the host it is given)
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        return None
    finally:
        s.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if not head or not head[0].startswith("HTTP/"):
        return None
    status = int(head[0].split()[1])
    xcache = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("x-cache:")), "")
    return status, xcache


def origin_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgecache", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--prefix", required=True, help="the stored objects are PREFIX0 .. PREFIX(N-1)")
    ap.add_argument("--objects", type=int, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--cold", action="append", default=[], help="a file to drop from the page cache before each run")
    ap.add_argument("--origin-log", required=True)
    ap.add_argument("--log", required=True, help="edgecache's output is appended here")
    ap.add_argument("--label", default="")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    runs, failures = [], []

    for run in range(1, a.runs + 1):
        resident = []
        for path in a.cold:
            drop_from_page_cache(path)
            resident.append(resident_bytes(path))
        key = "%s%d" % (a.prefix, rnd.randrange(a.objects))
        origin0 = origin_lines(a.origin_log)
        logf = open(a.log, "ab")
        t0 = time.monotonic()
        proc = subprocess.Popen([a.edgecache, "serve", "-c", a.config], stdout=logf, stderr=subprocess.STDOUT)
        polls, first_answer, start_ms = 0, None, None
        next_poll = t0
        while time.monotonic() - t0 < 60:
            if proc.poll() is not None:
                break
            polls += 1
            r = poll_once(a.port, key)
            now = time.monotonic()
            if r is not None and first_answer is None:
                first_answer = r
            if r == (200, "HIT"):
                start_ms = (now - t0) * 1000
                break
            next_poll += 0.010
            time.sleep(max(0, next_poll - time.monotonic()))
        rss_start, anon_start = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "RssAnon")
        hits = bad = 0
        if start_ms is not None:
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            for k in rnd.sample(range(a.objects), min(a.sample, a.objects)):
                conn.request("GET", "%s%d" % (a.prefix, k))
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200 and resp.getheader("x-cache") == "HIT":
                    hits += 1
                else:
                    bad += 1
            conn.close()
        rss_after, anon_after = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "RssAnon")
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        stop_ms = (time.monotonic() - t_stop) * 1000
        logf.close()
        origin_added = origin_lines(a.origin_log) - origin0
        r = dict(run=run, start_ms=start_ms, polls=polls, first=first_answer, rss_start=rss_start, anon_start=anon_start,
                 rss_after=rss_after, anon_after=anon_after, hits=hits, bad=bad, origin=origin_added, stop_ms=stop_ms, rc=rc,
                 resident=resident)
        runs.append(r)
        print("%s run %d: %s" % (a.label, run, " ".join("%s=%s" % (k, v) for k, v in r.items() if k != "run")),
              file=sys.stderr, flush=True)
        if start_ms is None:
            failures.append("run %d: no HIT within 60 s (first answer: %s)" % (run, first_answer))
        if bad or origin_added:
            failures.append("run %d: %d of the sampled objects were not HITs; the origin got %d requests" % (run, bad, origin_added))

    def med(k):
        v = [r[k] for r in runs if r[k] is not None]
        return statistics.median(v) if v else float("nan")

    print("| run | exec → first HIT | polls | RSS at first HIT (anon) | RSS after the sample (anon) | sample HITs | origin requests | SIGTERM → exit |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print("| %d | %s | %d | %.1f MB (%.1f MB) | %.1f MB (%.1f MB) | %d / %d | %d | %.0f ms |" % (
            r["run"], "%.0f ms" % r["start_ms"] if r["start_ms"] is not None else "none", r["polls"],
            r["rss_start"] / 1024, r["anon_start"] / 1024, r["rss_after"] / 1024, r["anon_after"] / 1024,
            r["hits"], r["hits"] + r["bad"], r["origin"], r["stop_ms"]))
    print("| **median** | **%.0f ms** | %.0f | %.1f MB (%.1f MB) | %.1f MB (%.1f MB) | | | %.0f ms |" % (
        med("start_ms"), med("polls"), med("rss_start") / 1024, med("anon_start") / 1024, med("rss_after") / 1024,
        med("anon_after") / 1024, med("stop_ms")))
    if a.cold:
        res = [x for r in runs for x in r["resident"]]
        print("\nBytes of the cache files left in the page cache after the drop, per run: %s." % ", ".join(
            "%.1f MB" % (x / 1e6) if x >= 0 else "unknown" for x in res))
    for f in failures:
        print("\n- FAIL: " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tools/soak_load.py: the soak's clients and purger, and the judge of every response they get.

Client threads request the working set of tools/soak_common.py through the edge (popular paths far
more often, Zipf), some with Range, some HEAD, with Accept-Language variants; a purger thread publishes
(bumps versions at the origin's control port) and purges (url, prefix, soft) through the admin API at
random moments. Connection errors are retried on a new connection: the edge is killed and restarted
under them (tools/soak.sh). Python 3 standard library only.

Invariant checked on every response, from the body alone (see soak_common): it is the requested
path's body, of the requested variant, whole (length and hash), a Range slice equal to the same bytes
of the whole body; and once a purge of a path is done at time T, no response to a request that started
after T carries an older version than the origin's when the purge was posted (a soft purge: not unless
X-Cache is STALE). A breach is a violation, written in full to violations.jsonl; the counts go to
results.json for tools/soak_report.py.

Usage:
    soak_load.py --edge-port P --admin-port P --token-file F --control-port P --out DIR
                 [--urls N] [--clients N] [--duration S] [--think S] [--seed S]
"""
import argparse
import bisect
import collections
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_common as sc  # noqa: E402

LOCK = threading.Lock()
COUNT = collections.Counter()  # "requests", "method:GET", "status:200", "xcache:HIT", "info:..." ...
ERRORS = []  # (t0, t1, kind, path): connection-level errors, classified later against restart windows
VIOLATIONS = []
PURGES = []
# path -> (version, purge id, t_done) the requirement a response started later must meet
REQ_HARD, REQ_SOFT, REQ_ACCEPTED = {}, {}, {}
MAX_SEEN = {}  # (path, tag) -> highest version of a completed non-STALE response
BODY_CACHE = collections.OrderedDict()
A = None
STOP = threading.Event()


def whole_body(path, version, tag):
    key = (path, version, tag)
    with LOCK:
        if key in BODY_CACHE:
            BODY_CACHE.move_to_end(key)
            return BODY_CACHE[key]
    body = sc.make_body(path, version, tag)
    with LOCK:
        BODY_CACHE[key] = body
        while len(BODY_CACHE) > 64:
            BODY_CACHE.popitem(last=False)
    return body


def count(*names):
    with LOCK:
        for n in names:
            COUNT[n] += 1


def violation(kind, ctx, detail, **extra):
    v = dict(ctx, kind=kind, detail=detail, **extra)
    with LOCK:
        VIOLATIONS.append(v)
        COUNT["violation:" + kind] += 1
    with open(os.path.join(A.out, "violations.jsonl"), "a") as f:
        f.write(json.dumps(v) + "\n")


class Zipf:
    def __init__(self, n, s=1.0):
        acc, self.cum = 0.0, []
        for k in range(1, n + 1):
            acc += 1.0 / k**s
            self.cum.append(acc)

    def pick(self, rng):
        return bisect.bisect_left(self.cum, rng.random() * self.cum[-1])


def classify(exc, got_status):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if got_status:
        return "aborted-body"  # the transfer was cut: detected by the client, never taken as whole
    return "reset-before-status"


def check(ctx, method, status, hdr, body, path, tag, rng_req):
    """The version a response carries, after its identity checks; None if it has none to check."""
    i = sc.index_of(path)
    size = sc.size_of(i)
    hver = hdr.get("x-soak-version")
    hpath = hdr.get("x-soak-path")
    if hpath is not None and hpath != path:
        violation("wrong-url", ctx, "X-Soak-Path %s" % hpath)
        return None
    if method == "HEAD":
        etag = hdr.get("etag", "")
        if etag and not etag.endswith('.%s"' % tag):
            violation("wrong-variant", ctx, "ETag %s, expected the variant %s" % (etag, tag))
            return None
        if hdr.get("content-length") not in (None, str(size)):
            violation("truncated", ctx, "HEAD Content-Length %s, expected %d" % (hdr.get("content-length"), size))
            return None
        return int(hver) if hver and hver.isdigit() else None
    if status == 200:
        bad = sc.body_check(body, path, tag)
        if bad:
            violation(bad[0], ctx, bad[1])
            return None
        version = sc.parse_head(body)[1]
    else:  # 206
        cr = hdr.get("content-range", "")
        try:
            unit, _, rest = cr.partition(" ")
            span, _, total = rest.partition("/")
            start, _, end = span.partition("-")
            start, end, total = int(start), int(end), int(total)
            assert unit == "bytes"
        except (ValueError, AssertionError):
            violation("bad-range", ctx, "Content-Range %r" % cr)
            return None
        if total != size or len(body) != end - start + 1:
            violation("truncated", ctx, "Content-Range %s, %d bytes, size %d" % (cr, len(body), size))
            return None
        if rng_req is not None and not (start == rng_req[0] and (rng_req[1] is None or end == min(rng_req[1], size - 1))):
            violation("bad-range", ctx, "asked %s, got %s" % (rng_req, cr))
            return None
        rec = sc.parse_record_at(body, start)
        if rec is None:
            if not (hver and hver.isdigit()):
                return None
            rec = (path, int(hver), tag)
        if rec[0] != path:
            violation("wrong-url", ctx, "range slice of %s" % rec[0])
            return None
        if rec[2] != tag:
            violation("wrong-variant", ctx, "range slice lang=%s, expected %s" % (rec[2], tag))
            return None
        version = rec[1]
        if whole_body(path, version, tag)[start : end + 1] != body:
            violation("hash-mismatch", ctx, "range %s differs from bytes of version %d" % (cr, version))
            return None
    if hver is not None and hver != str(version):
        violation("header-body-mismatch", ctx, "X-Soak-Version %s, body version %d" % (hver, version))
    return version


def client(idx, zipf, end):
    rng = random.Random(A.seed * 7919 + idx)
    conn = None
    while time.time() < end:
        time.sleep(rng.uniform(0, 2 * A.think))
        i = zipf.pick(rng)
        path = sc.path_of(i)
        size = sc.size_of(i)
        r = rng.random()
        method, rng_req = "GET", None
        headers = {}
        if r < 0.10:
            method = "HEAD"
        elif r < 0.25:
            start = rng.randrange(max(1, size - 300))
            last = None if rng.random() < 0.2 else start + rng.randrange(200, 65536)
            rng_req = (start, last)
            headers["Range"] = "bytes=%d-%s" % (start, "" if last is None else last)
        al = rng.choice(sc.LANGS)
        if al is not None:
            headers["Accept-Language"] = al
        tag = sc.lang_tag(i, al)
        with LOCK:
            hard, soft, acc = REQ_HARD.get(path), REQ_SOFT.get(path), REQ_ACCEPTED.get(path)
            seen = MAX_SEEN.get((path, tag))
        t0 = time.time()
        ctx = dict(t0=t0, url=path, method=method, range=headers.get("Range"), accept_language=al)
        count("requests", "method:" + method + (" range" if rng_req else ""))
        got_status = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", A.edge_port, timeout=30)
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            got_status = True
            body = resp.read()
            hdr = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
            if hdr.get("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            kind = classify(e, got_status)
            with LOCK:
                ERRORS.append((t0, time.time(), kind, path))
            if conn is not None:
                conn.close()
            conn = None
            if kind == "refused":
                time.sleep(0.05)
            continue
        t1 = time.time()
        xc = hdr.get("x-cache", "none")
        ctx.update(t1=t1, status=status, x_cache=xc, cache_status=hdr.get("cache-status"),
                   content_range=hdr.get("content-range"), etag=hdr.get("etag"),
                   x_soak_version=hdr.get("x-soak-version"))
        count("status:%d" % status, "xcache:" + xc)
        if rng_req is not None and status == 200:
            count("info:range-answered-200-%s" % xc)  # allowed (RFC 9110 14.2), but worth seeing
        if status not in (200, 206):
            with LOCK:
                COUNT["http-error:%d %s" % (status, xc)] += 1
            continue
        version = check(ctx, method, status, hdr, body, path, tag, rng_req)
        if version is None:
            continue
        ctx["version"] = version
        if hard and version < hard[0]:
            violation("purge-hard", ctx, "version %d after purge %s done at %.3f, which required >= %d"
                      % (version, hard[1], hard[2], hard[0]), expected=hard[0], got=version)
        elif soft and version < soft[0] and xc != "STALE":
            violation("purge-soft-not-stale", ctx, "version %d with X-Cache %s after soft purge %s done at"
                      " %.3f, which required >= %d or STALE" % (version, xc, soft[1], soft[2], soft[0]),
                      expected=soft[0], got=version)
        elif acc and version < acc[0]:
            count("info:old-version-between-202-and-done")
        if seen is not None and version < seen and xc != "STALE":
            count("info:version-regression")
        if xc != "STALE":
            with LOCK:
                if MAX_SEEN.get((path, tag), 0) < version:
                    MAX_SEEN[(path, tag)] = version
    if conn is not None:
        conn.close()


def http_json(port, method, target, body=None, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, target, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data[:1] in (b"{", b"[") else data)
    finally:
        c.close()


def purger(zipf, end):
    rng = random.Random(A.seed * 104729)
    token = open(A.token_file).read().strip()
    auth = {"Authorization": "Bearer " + token}
    while time.time() < end - 5:
        time.sleep(rng.expovariate(1 / A.purge_every))
        kind = rng.choices(("url", "prefix", "soft-url", "soft-prefix"), (45, 20, 25, 10))[0]
        if kind.endswith("url"):
            target = sc.path_of(zipf.pick(rng))
        else:
            target = "/g%d/" % rng.randrange(sc.GROUPS)
            if rng.random() < 0.3:
                target += str(rng.randrange(1, 10))
        soft = kind.startswith("soft")
        rec = dict(kind=kind, target=target)
        try:
            if rng.random() < 0.7:  # publish, then purge
                http_json(A.control_port, "POST", "/bump?%s=%s" % ("path" if kind.endswith("url") else "prefix", target))
            _, versions = http_json(A.control_port, "GET", "/versions")
        except (OSError, http.client.HTTPException) as e:
            count("purge-error:origin-control " + type(e).__name__)
            continue
        want = {p: v for p, v in versions.items() if (p == target if kind.endswith("url") else p.startswith(target))}
        form = urllib.parse.urlencode([("url" if kind.endswith("url") else "prefix", target)] + ([("soft", "1")] if soft else []))
        rec["t_post"] = time.time()
        try:
            st, j = http_json(A.admin_port, "POST", "/purge", form,
                              dict(auth, **{"Content-Type": "application/x-www-form-urlencoded"}))
        except (OSError, http.client.HTTPException) as e:
            count("purge-error:post " + classify(e, False))
            rec["outcome"] = "post-failed"
            PURGES.append(rec)
            continue
        if st != 202:
            count("purge-error:post status %d" % st)
            rec["outcome"] = "status %d" % st
            PURGES.append(rec)
            continue
        pid = j["id"]
        rec.update(id=pid, t_accepted=time.time())
        with LOCK:
            if not soft:
                for p, v in want.items():
                    if REQ_ACCEPTED.get(p, (0,))[0] < v:
                        REQ_ACCEPTED[p] = (v, pid, rec["t_accepted"])
        outcome = "timeout"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                st, j = http_json(A.admin_port, "GET", "/purge/%s" % pid, headers=auth)
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)  # the edge is restarting
                continue
            if st == 404:
                outcome = "lost"  # the edge was killed before it was done (ids do not survive)
                break
            if st == 200 and j.get("status") == "done":
                outcome = "done"
                rec.update(t_done=time.time(), objects=j.get("objects"))
                break
            time.sleep(0.05)
        rec["outcome"] = outcome
        count("purge:%s %s" % (kind, outcome))
        if outcome == "done":
            with LOCK:
                req = REQ_SOFT if soft else REQ_HARD
                for p, v in want.items():
                    if req.get(p, (0,))[0] < v:
                        req[p] = (v, pid, rec["t_done"])
        PURGES.append(rec)


def main():
    global A
    ap = argparse.ArgumentParser()
    for name in ("--edge-port", "--admin-port", "--control-port"):
        ap.add_argument(name, type=int, required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--urls", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--think", type=float, default=0.01)
    ap.add_argument("--purge-every", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    A = ap.parse_args()
    open(os.path.join(A.out, "violations.jsonl"), "w").close()
    zipf = Zipf(A.urls)
    t_start = time.time()
    end = t_start + A.duration
    threads = [threading.Thread(target=client, args=(k, zipf, end), daemon=True) for k in range(A.clients)]
    threads.append(threading.Thread(target=purger, args=(zipf, end), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, end - time.time() + 60))
    with LOCK:
        res = dict(t_start=t_start, t_end=time.time(), counts=dict(COUNT), errors=ERRORS,
                   purges=PURGES, violations=len(VIOLATIONS), clients=A.clients, urls=A.urls)
    with open(os.path.join(A.out, "results.json"), "w") as f:
        json.dump(res, f)
    print("soak_load: %d requests, %d violations" % (COUNT["requests"], len(VIOLATIONS)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tools/soak_origin.py: the misbehaving origin behind tools/soak.sh's edge.

It serves the working set of tools/soak_common.py on a data port and, unlike tests/e2e/origin.py
(which answers a script per request), misbehaves on its own schedule: it flaps (periods where the data
port is closed, so connections are refused, and periods where every answer is a 503), resets a
connection in the middle of a body now and then, stalls a body now and then, and raises the version
of paths over time, so bodies change. A control port that never flaps lets the soak's clients read
the versions and bump them (what a publisher does before a purge). Python 3 standard library only.

Invariant: a 200 always carries make_body(path, version, tag) whole, with the version current when
its head was written, in X-Soak-Version and in its ETag; a 304 is answered only for that ETag. A
version never decreases.

Usage:
    soak_origin.py --urls N --port-file F --control-port-file F --log F [--parent-pid PID] [--seed S]
Control endpoints (control port; JSON answers):
    GET  /versions                {path: version} of every path
    POST /bump?path=P | prefix=P  raises the version of P (or of every path starting with P); answers
                                  the new {path: version} of those paths
    GET  /stats                   counters: requests, answered, not_modified, flap_503, resets, stalls,
                                  refuse_periods, flap_503_periods, bumps
Every data request is a JSON line in the --log file: t0, t1, path, lang, version, status, outcome.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_common as sc  # noqa: E402

LOCK = threading.Lock()
VERSIONS = {}
STATS = dict(requests=0, answered=0, not_modified=0, flap_503=0, resets=0, stalls=0,
             refuse_periods=0, flap_503_periods=0, bumps=0)
STATE = {"mode": "up"}  # up | refuse | 503
CONNS = set()
LOG = None


def stat(name, n=1):
    with LOCK:
        STATS[name] += n


def log(rec):
    line = json.dumps(rec) + "\n"
    with LOCK:
        LOG.write(line)


def read_head(f):
    """(method, target, {name: value}) of the next request on a buffered reader, or None at EOF."""
    line = f.readline(8192)
    while line in (b"\r\n", b"\n"):
        line = f.readline(8192)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        return None
    headers = {}
    while True:
        h = f.readline(8192)
        if not h or h in (b"\r\n", b"\n"):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    n = int(headers.get("content-length", "0") or 0)
    if n:
        f.read(n)
    return parts[0], parts[1], headers


def reset(sock):
    """Close with an RST, not a FIN: what a crashing origin does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def send_head(sock, status, reason, headers):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % kv for kv in headers]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def serve_data(sock, rng):
    f = sock.makefile("rb")
    with LOCK:
        CONNS.add(sock)
    try:
        while True:
            req = read_head(f)
            if req is None:
                return
            method, target, headers = req
            t0 = time.time()
            stat("requests")
            path = target.split("?", 1)[0]
            rec = {"t0": t0, "path": path, "method": method}
            if STATE["mode"] == "503":
                stat("flap_503")
                send_head(sock, 503, "Service Unavailable",
                          [("Content-Length", "5"), ("Cache-Control", "no-store")])
                sock.sendall(b"flap\n")
                rec.update(status=503, outcome="flap", t1=time.time())
                log(rec)
                continue
            try:
                i = sc.index_of(path)
                if path != sc.path_of(i) or not 0 <= i < len(VERSIONS):
                    raise ValueError
            except ValueError:
                send_head(sock, 404, "Not Found", [("Content-Length", "0"), ("Cache-Control", "no-store")])
                rec.update(status=404, outcome="unknown", t1=time.time())
                log(rec)
                continue
            accept_language = headers.get("accept-language")
            tag = sc.lang_tag(i, accept_language)
            with LOCK:
                version = VERSIONS[path]
            etag = '"v%d.%s"' % (version, tag)
            common = [("Cache-Control", sc.cache_control(i)), ("ETag", etag),
                      ("X-Soak-Version", str(version)), ("X-Soak-Path", path),
                      ("Content-Type", "application/octet-stream")]
            if sc.varies(i):
                common.append(("Vary", "Accept-Language"))
            rec.update(lang=tag, version=version)
            if etag in [t.strip() for t in headers.get("if-none-match", "").split(",")]:
                stat("not_modified")
                send_head(sock, 304, "Not Modified", common)
                rec.update(status=304, outcome="ok", t1=time.time())
                log(rec)
                continue
            body = sc.make_body(path, version, tag)
            chunked = rng.random() < 0.3
            framing = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length", str(len(body)))]
            send_head(sock, 200, "OK", common + framing)
            if method == "HEAD":
                rec.update(status=200, outcome="ok", t1=time.time())
                log(rec)
                continue
            fault = rng.random()
            cut = len(body)
            if len(body) > 4096 and fault < 0.02:
                cut = rng.randrange(1, len(body))
            stall_at = rng.randrange(1, len(body)) if 0.02 <= fault < 0.03 else None
            off = 0
            while off < cut:
                n = min(65536, cut - off)
                if stall_at is not None and off <= stall_at < off + n:
                    n = stall_at - off + 1
                piece = body[off : off + n]
                if chunked:
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                sock.sendall(piece)
                off += n
                if stall_at is not None and off == stall_at + 1:
                    stat("stalls")
                    time.sleep(rng.uniform(0.2, 1.5))
            if cut < len(body):
                stat("resets")
                rec.update(status=200, outcome="reset", sent=cut, t1=time.time())
                log(rec)
                reset(sock)
                return
            if chunked:
                sock.sendall(b"0\r\n\r\n")
            stat("answered")
            rec.update(status=200, outcome="ok", t1=time.time())
            log(rec)
    except OSError:
        return
    finally:
        with LOCK:
            CONNS.discard(sock)
        try:
            sock.close()
        except OSError:
            pass


def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s


def accept_loop(lsock, handler, seed):
    n = 0
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return  # closed by the flapper
        n += 1
        threading.Thread(target=handler, args=(c, random.Random(seed * 1000003 + n)), daemon=True).start()


def serve_control(sock, _rng):
    f = sock.makefile("rb")
    try:
        while True:
            req = read_head(f)
            if req is None:
                return
            method, target, _ = req
            path, _, query = target.partition("?")
            q = dict(kv.partition("=")[::2] for kv in query.split("&") if kv)
            status, out = 200, None
            with LOCK:
                if path == "/versions":
                    out = dict(VERSIONS)
                elif path == "/stats":
                    out = dict(STATS, mode=STATE["mode"])
                elif path == "/bump" and method == "POST":
                    if "path" in q:
                        names = [q["path"]] if q["path"] in VERSIONS else []
                    else:
                        names = [p for p in VERSIONS if p.startswith(q.get("prefix", "\0"))]
                    for p in names:
                        VERSIONS[p] += 1
                    STATS["bumps"] += len(names)
                    out = {p: VERSIONS[p] for p in names}
                else:
                    status, out = 404, {}
            data = json.dumps(out).encode()
            send_head(sock, status, "X", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data)))])
            sock.sendall(data)
    except OSError:
        return
    finally:
        sock.close()


def flapper(port, rng, first):
    """Every 20-50 s one outage of 3-8 s: the data port closed (connections refused, open ones reset),
    or every answer a 503."""
    lsock = first
    while True:
        time.sleep(rng.uniform(20, 50))
        kind = rng.choice(("refuse", "503"))
        length = rng.uniform(3, 8)
        if kind == "refuse":
            stat("refuse_periods")
            STATE["mode"] = "refuse"
            try:
                lsock.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
            except OSError:
                pass
            lsock.close()
            with LOCK:
                conns = list(CONNS)
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            time.sleep(length)
            for _ in range(100):
                try:
                    lsock = listen(port)
                    break
                except OSError:
                    time.sleep(0.1)
            threading.Thread(target=accept_loop, args=(lsock, serve_data, rng.randrange(1 << 30)),
                             daemon=True).start()
        else:
            stat("flap_503_periods")
            STATE["mode"] = "503"
            time.sleep(length)
        STATE["mode"] = "up"


def bumper(rng, n):
    """Bodies change over time: a path (the popular ones more often) gets a new version every 0.5 s."""
    while True:
        time.sleep(0.5)
        p = sc.path_of(min(int(rng.paretovariate(0.8)) - 1, n - 1))
        with LOCK:
            VERSIONS[p] += 1
            STATS["bumps"] += 1


def write_port(path, port):
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(path + ".tmp", path)


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", type=int, default=300)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control-port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    LOG = open(a.log, "a", buffering=1)
    for i in range(a.urls):
        VERSIONS[sc.path_of(i)] = 1
    rng = random.Random(a.seed)
    data = listen(0)
    port = data.getsockname()[1]
    ctl = listen(0)
    threading.Thread(target=accept_loop, args=(data, serve_data, rng.randrange(1 << 30)), daemon=True).start()
    threading.Thread(target=accept_loop, args=(ctl, serve_control, 0), daemon=True).start()
    threading.Thread(target=flapper, args=(port, random.Random(rng.random()), data), daemon=True).start()
    threading.Thread(target=bumper, args=(random.Random(rng.random()), a.urls), daemon=True).start()
    write_port(a.control_port_file, ctl.getsockname()[1])
    write_port(a.port_file, port)
    while True:
        time.sleep(0.5)
        if a.parent_pid:
            try:
                os.kill(a.parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tests/e2e/loop.py: a bounded client loop that counts what a client would see go wrong.

Client threads GET the given paths from the edge until the stop file appears (or --max-seconds pass),
half of the time each on a new connection, half on a kept-alive one. What is counted:

- refused: connect() refused (a listener was closed, or nothing listened);
- errors: anything else that fails a request on a new connection, a status not in --status, or a
  body shorter than its Content-Length (http.client raises on one);
- closed_idle: a kept-alive connection that the server closed between two requests (the request was
  never answered, and is retried once on a new connection, as browsers and HTTP libraries do: RFC 9112
  section 9.3.1 lets a client retry an idempotent request then). Not an error, but reported;
- the longest time one request took (connect included), in ms, and when.

Writes a JSON summary to --out when it stops. Python 3 standard library only.

Usage: loop.py --port P --path /a [--path /b ...] --stop FILE --out FILE
               [--clients N] [--max-seconds S] [--status 200,304] [--host HOST]
"""
import argparse
import http.client
import json
import os
import socket
import threading
import time

LOCK = threading.Lock()
STATS = {"requests": 0, "refused": 0, "errors": 0, "closed_idle": 0, "max_ms": 0.0, "max_at": 0.0, "samples": []}
ERRORS = []


def note_error(kind, detail):
    with LOCK:
        STATS[kind] += 1
        if len(ERRORS) < 20:
            ERRORS.append({"kind": kind, "detail": detail, "t": time.time()})


def one(conn, args, path):
    """One request on `conn`; returns the status. Raises what http.client raises."""
    headers = {"Host": args.host} if args.host else {}
    conn.request("GET", path, headers=headers)
    res = conn.getresponse()
    res.read()
    return res.status


def client(args, index):
    statuses = {int(s) for s in args.status.split(",")}
    conn, uses, i = None, 0, index
    deadline = time.time() + args.max_seconds
    while not os.path.exists(args.stop) and time.time() < deadline:
        path = args.path[i % len(args.path)]
        i += 1
        reused = conn is not None
        if conn is None:
            conn, uses = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30), 0
        t0 = time.monotonic()
        try:
            status = one(conn, args, path)
        except ConnectionRefusedError as e:
            note_error("refused", "%s: %s" % (path, e))
            conn = None
            continue
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            conn.close()
            conn = None
            if not reused:
                note_error("errors", "%s on a new connection: %r" % (path, e))
                continue
            with LOCK:
                STATS["closed_idle"] += 1
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            try:
                status = one(conn, args, path)
            except ConnectionRefusedError as e:
                note_error("refused", "%s (retry): %s" % (path, e))
                conn = None
                continue
            except Exception as e:  # noqa: BLE001 - every other failure is an error to report
                note_error("errors", "%s (retry): %r" % (path, e))
                conn.close()
                conn = None
                continue
        except Exception as e:  # noqa: BLE001
            note_error("errors", "%s: %r" % (path, e))
            conn.close()
            conn = None
            continue
        ms = (time.monotonic() - t0) * 1000
        with LOCK:
            STATS["requests"] += 1
            if ms > STATS["max_ms"]:
                STATS["max_ms"], STATS["max_at"] = ms, time.time()
            if len(STATS["samples"]) < 200000:
                STATS["samples"].append(ms)
        if status not in statuses:
            note_error("errors", "%s: status %d" % (path, status))
        uses += 1
        if index % 2 == 0 or uses >= 20:  # even clients: a new connection per request
            conn.close()
            conn = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", action="append", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--status", default="200")
    ap.add_argument("--host", default="")
    args = ap.parse_args()
    threads = [threading.Thread(target=client, args=(args, i), daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples = sorted(STATS.pop("samples"))
    STATS["p99_ms"] = round(samples[int(len(samples) * 0.99)] if samples else 0.0, 1)
    STATS["max_ms"] = round(STATS["max_ms"], 1)
    STATS["first_errors"] = ERRORS
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATS, f)
    os.rename(tmp, args.out)


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()

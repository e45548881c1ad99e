#!/usr/bin/env python3
"""tests/e2e/origin.py: the scripted origin that the end-to-end scenarios put behind edgecache.

It counts and records every request it receives, so a scenario can prove a HIT (the count did not
move) rather than trust the edge's own headers. Python 3 standard library only.

Usage:
    origin.py --port 0 --port-file F [--parent-pid PID]
        Listens on 127.0.0.1 (port 0: any free port) and writes the chosen port to F (atomically,
        once listening). With --parent-pid, exits by itself when that process is gone, so a killed
        test never leaves an origin behind.
    origin.py --emit N
        Writes the N-byte deterministic body (see "body_size") to stdout, for checksums.

Control endpoints (called directly on the origin port, never through the edge; not counted):
    POST /__script    JSON object, fields below. A later script for the same path replaces the earlier.
    GET  /__count?path=/x        requests received for path /x (any method, any query), as text
    GET  /__count?url=/x?a=1     requests received for exactly that path and query
    GET  /__count                every request received, malformed ones included
    GET  /__count?rejected=1     requests received that the origin could not parse (answered 4xx)
    GET  /__requests?path=/x     JSON list of {method, path (with query), headers (names lower-cased),
                                 body_len, body_sha256, body (the first 4096 bytes, as latin-1 text)}
    POST /__reset                forgets every count, record and script

Script fields (only "path" is required; scripts match the path without its query):
    status          HTTP status, default 200
    headers         {name: value}, sent as given. A script sends no Cache-Control unless it says so.
    body            text body (UTF-8); or
    body_size       N deterministic bytes: byte i is (i % 251), so offset errors show in a checksum
    etag            shortcut for the ETag header (give the quotes: "\\"v1\\"")
    last_modified   shortcut for Last-Modified: an HTTP-date string or a Unix time (number)
    304_if_match    answer 304 (no body) when If-None-Match matches the ETag (or is "*"), or when
                    If-Modified-Since is not older than Last-Modified (used only without If-None-Match)
    delay           seconds to wait before sending the head
    body_delay      seconds to wait between the head and the body
    chunked         send the body with Transfer-Encoding: chunked (64 KiB chunks)
    content_length  declare this Content-Length whatever the body's real size, send the body, close
    reset_after     send this many body bytes, then reset the connection (SO_LINGER 0 + close)
    stall_after     send this many body bytes, flush, wait "stall" seconds (default 2), send the rest
    hang            accept the request and never answer (until the client goes away)

Without a script, a path answers 200, Content-Type: text/plain, Cache-Control: max-age=60 and the
body "origin:<path as received, query included>". Every answer that is not a reset or a hang carries
X-Origin-Count: the count for its path, this request included.
"""

import argparse
import hashlib
import http.client
import json
import os
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024
PATTERN = bytes(range(251)) * 300  # one block of the body_size pattern; whole multiple of 251


def pattern_bytes(offset, n):
    """n bytes of the deterministic body starting at offset."""
    out = bytearray()
    while n > 0:
        start = offset % 251
        take = min(n, len(PATTERN) - start)
        out += PATTERN[start:start + take]
        offset += take
        n -= take
    return bytes(out)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.scripts = {}
        self.count_by_path = {}
        self.count_by_url = {}
        self.requests = {}
        self.total = 0
        self.rejected = 0


STATE = State()


# Be a permissive origin: accept request lines and header blocks far larger than the stdlib's 64 KiB /
# 100 headers, so that a request the edge should have refused is counted here, not silently rejected.
http.client._MAXLINE = 1 << 20
http.client._MAXHEADERS = 100000
MAX_REQUEST_LINE = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-origin"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet
        pass

    def handle_one_request(self):
        # The stdlib's, with a 1 MiB request line instead of 64 KiB.
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            getattr(self, "do_" + self.command, self.do_unknown)()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def do_unknown(self):
        self.handle_any()

    def send_error(self, code, message=None, explain=None):
        # Whatever the stdlib rejects (a malformed request line or header) still counts as received.
        with STATE.lock:
            STATE.total += 1
            STATE.rejected += 1
        super().send_error(code, message, explain)

    # Every method goes through one place.
    def do_GET(self):
        self.handle_any()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # --- request body --------------------------------------------------------------------------
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers up to the empty line
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                body += self.rfile.read(size)
                self.rfile.readline(65537)
            return bytes(body)
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n > 0 else b""

    # --- dispatch ------------------------------------------------------------------------------
    def handle_any(self):
        body = self.read_body()
        url = self.path
        path = urllib.parse.urlsplit(url).path
        if path.startswith("/__"):
            return self.control(path, url, body)

        with STATE.lock:
            STATE.total += 1
            n = STATE.count_by_path.get(path, 0) + 1
            STATE.count_by_path[path] = n
            STATE.count_by_url[url] = STATE.count_by_url.get(url, 0) + 1
            STATE.requests.setdefault(path, []).append({
                "method": self.command,
                "path": url,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body": body[:4096].decode("latin-1"),
                "time": time.time(),
            })
            script = STATE.scripts.get(path)
        if script is None:
            script = {"headers": {"Cache-Control": "max-age=60", "Content-Type": "text/plain"},
                      "body": "origin:" + url}
        self.answer(script, n)

    def answer(self, s, count):
        if s.get("hang"):
            return self.hang()
        if s.get("delay"):
            time.sleep(float(s["delay"]))

        headers = dict(s.get("headers") or {})
        if s.get("etag"):
            headers["ETag"] = s["etag"]
        lm = s.get("last_modified")
        if lm is not None:
            headers["Last-Modified"] = formatdate(float(lm), usegmt=True) if isinstance(lm, (int, float)) else lm
        headers["X-Origin-Count"] = str(count)

        status = int(s.get("status", 200))
        if s.get("304_if_match") and self.not_modified(headers):
            status = 304
        if "body_size" in s:
            size = int(s["body_size"])
            get_body = lambda off, n: pattern_bytes(off, n)
        else:
            raw = (s.get("body") or "").encode()
            size = len(raw)
            get_body = lambda off, n: raw[off:off + n]
        no_body = status == 304 or status == 204 or 100 <= status < 200
        send_body = not no_body and self.command != "HEAD"

        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        chunked = bool(s.get("chunked")) and not no_body
        lie = s.get("content_length")
        if no_body:
            pass
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(int(lie) if lie is not None else size))
        if lie is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not send_body:
            return
        if s.get("body_delay"):
            time.sleep(float(s["body_delay"]))

        limit = size
        reset_after = s.get("reset_after")
        if reset_after is not None:
            limit = min(size, int(reset_after))
        off = 0
        stall_after = s.get("stall_after")
        while off < limit:
            n = min(CHUNK, limit - off)
            if stall_after is not None and off < int(stall_after):
                n = min(n, int(stall_after) - off)
            elif stall_after is not None and off == int(stall_after):
                self.wfile.flush()
                time.sleep(float(s.get("stall", 2)))
                stall_after = None
            data = get_body(off, n)
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            off += n
        if reset_after is not None:
            return self.reset_connection()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        if lie is not None:
            # The body (whatever its size) is out; closing now leaves the declared length unmet.
            self.close_connection = True

    def not_modified(self, headers):
        inm = self.headers.get("If-None-Match")
        etag = headers.get("ETag")
        if inm is not None:
            if etag is None:
                return False
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or etag in tags or ("W/" + etag) in tags
        ims = self.headers.get("If-Modified-Since")
        lm = headers.get("Last-Modified")
        if ims and lm:
            try:
                return parsedate_to_datetime(ims) >= parsedate_to_datetime(lm)
            except (TypeError, ValueError):
                return False
        return False

    def reset_connection(self):
        # Give the bytes already written a moment to leave, then close with SO_LINGER 0: an RST.
        time.sleep(0.2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # socket.close() would wait for the rfile wrapper to let go; closing the descriptor itself
        # sends the RST now, and leaves the wrappers to fail quietly on a socket marked closed.
        os.close(self.connection.detach())
        self.close_connection = True

    def hang(self):
        # Never answer; return only when the peer goes away (or after a generous bound).
        self.close_connection = True
        deadline = time.time() + 120
        while time.time() < deadline:
            r, _, _ = select.select([self.connection], [], [], 0.5)
            if r:
                try:
                    if not self.connection.recv(65536):
                        return
                except OSError:
                    return

    # --- control endpoints ---------------------------------------------------------------------
    def control(self, path, url, body):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        if path == "/__script" and self.command == "POST":
            try:
                s = json.loads(body or b"{}")
                p = s["path"]
            except (ValueError, KeyError) as e:
                return self.reply(400, "bad script: %s\n" % e)
            with STATE.lock:
                STATE.scripts[p] = s
            return self.reply(200, "ok\n")
        if path == "/__count":
            with STATE.lock:
                if "path" in q:
                    n = STATE.count_by_path.get(q["path"][0], 0)
                elif "url" in q:
                    n = STATE.count_by_url.get(q["url"][0], 0)
                elif "rejected" in q:
                    n = STATE.rejected
                else:
                    n = STATE.total
            return self.reply(200, "%d\n" % n)
        if path == "/__requests":
            with STATE.lock:
                if "path" in q:
                    reqs = list(STATE.requests.get(q["path"][0], []))
                else:
                    reqs = sorted((r for rs in STATE.requests.values() for r in rs), key=lambda r: r["time"])
            return self.reply(200, json.dumps(reqs, indent=1) + "\n", "application/json")
        if path == "/__reset" and self.command == "POST":
            with STATE.lock:
                STATE.reset()
            return self.reply(200, "ok\n")
        return self.reply(404, "unknown control endpoint\n")

    def reply(self, status, text, ctype="text/plain"):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A client (the edge) that goes away mid-answer is part of the tests, not an error to print.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, BrokenPipeError, OSError)):
            return
        super().handle_error(request, client_address)


def watch_parent(pid):
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--emit", type=int, metavar="N", help="write the N-byte body_size pattern to stdout")
    args = ap.parse_args()

    if args.emit is not None:
        off = 0
        out = sys.stdout.buffer
        while off < args.emit:
            n = min(len(PATTERN), args.emit - off)
            out.write(pattern_bytes(off, n))
            off += n
        out.flush()
        return

    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

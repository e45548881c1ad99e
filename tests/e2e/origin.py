#!/usr/bin/env python3
"""tests/e2e/origin.py: the scripted origin that the end-to-end scenarios put behind edgecache.

It counts and records every request it receives, so a scenario can prove a HIT (the count did not
move) rather than trust the edge's own headers. Python 3 standard library only.

Usage:
    origin.py --port 0 --port-file F [--parent-pid PID] [--name NAME] [--tls CERT KEY]
        Listens on 127.0.0.1 (port 0: any free port) and writes the chosen port to F (atomically,
        once listening). With --parent-pid, exits by itself when that process is gone, so a killed
        test never leaves an origin behind. With --name, every answer (not the control endpoints')
        carries X-Origin-Name: NAME, so a client can tell which of several origins answered. With
        --tls, the port speaks HTTPS only (control endpoints included), with that PEM certificate
        chain and key; the TLS handshake runs in the connection's thread, and a failed one is
        recorded in /__conns.
    origin.py --blackhole --port-file F [--parent-pid PID]
        Listens on 127.0.0.1 with a backlog of 0 and never accepts; its own connections fill the
        accept queue first, so a later connect(2) hangs in SYN-SENT (a connect timeout to provoke).
    origin.py --emit N
        Writes the N-byte deterministic body (see "body_size") to stdout, for checksums.

Control endpoints (called directly on the origin port, never through the edge; not counted):
    POST /__script    JSON object, fields below; or a JSON list of them, set at once (one request for
                      many paths). A later script for the same path replaces the earlier.
    GET  /__count?path=/x        requests received for path /x (any method, any query), as text
    GET  /__count?url=/x?a=1     requests received for exactly that path and query
    GET  /__count                every request received, malformed ones included
    GET  /__count?rejected=1     requests received that the origin could not parse (answered 4xx)
    GET  /__requests?path=/x     JSON list of {method, path (with query), headers (names lower-cased),
                                 body_len, body_sha256, body (the first 4096 bytes, as latin-1 text)}
    GET  /__counts               JSON {path: count} of every path received
    GET  /__sent?path=/x         response body bytes written to the socket for path /x (all requests), as
                                 text: with a slow reader, what the origin has really sent so far
    POST /__release              JSON {"gate": NAME}: opens the gate NAME (see "hold"); requests held there
                                 go on at once, and later ones pass without stopping. Answers "ok"
    GET  /__held?gate=NAME       requests that have reached the gate NAME so far (held or let through), as
                                 text: a test waits on it to know a held request has arrived
    GET  /__conns                JSON list of connections, oldest first: {id, port (the peer's), opened,
                                 closed (Unix times; closed null while open), peer_closed (true when
                                 the peer closed or reset it first), paths (requests served on it,
                                 control endpoints included), sni (TLS: the server name the client
                                 sent), tls_error}
    POST /__reset                forgets every count, record, connection, script and gate

Script fields (only "path" is required; scripts match the path without its query; a script for the
path "*" answers every path that has no script of its own):
    status          HTTP status, default 200
    headers         {name: value}, sent as given; or a list of [name, value] pairs, to repeat a field
                    (two Age or Connection lines). A script sends no Cache-Control unless it says so,
                    and a Date of its own (then the origin adds none). A value that is a time template,
                    "{now}", "{now+N}" or "{now-N}" (N seconds), optionally with ":rfc850" or ":asctime"
                    before the brace (the obsolete formats), is sent as that HTTP date, computed when
                    the head is sent, from the same clock reading as the Date the origin adds: an Expires
                    "{now+20}" gives a lifetime of exactly 20 s however long the request took to arrive
    interim         a list of interim (1xx) responses sent before the final one: each a status code
                    or [status, {name: value}], e.g. [100, [103, {"Link": "</s.css>; rel=preload"}]]
    body            text body (UTF-8); or
    body_from_header  the value of this request header is appended to "body" (to tell variants apart)
    body_from_headers a list of request header names: "|Name=value" is appended to "body" for each (value
                    empty when absent), to show which headers reached the origin
    body_size       N deterministic bytes: byte i is (i % 251), so offset errors show in a checksum
    etag            shortcut for the ETag header (give the quotes: "\\"v1\\"")
    last_modified   shortcut for Last-Modified: an HTTP-date string, a time template (see "headers") or
                    a Unix time (number)
    304_if_match    answer 304 (no body) when If-None-Match matches the ETag (or is "*"), or when
                    If-Modified-Since is not older than Last-Modified (used only without If-None-Match)
    hold            a gate name: once counted, the request waits (before "delay" and the head) until the
                    test opens the gate with POST /__release, or the peer goes away, or 120 s pass. A
                    test's barrier: it proves an order of events where a "delay" would only make it likely
    delay           seconds to wait before sending the head
    body_delay      seconds to wait between the head and the body
    chunked         send the body with Transfer-Encoding: chunked (64 KiB chunks)
    content_length  declare this Content-Length whatever the body's real size, send the body, close
    reset_after     send this many body bytes, then reset the connection (SO_LINGER 0 + close)
    stall_after     send this many body bytes, flush, wait "stall" seconds (default 2), send the rest
    stall_gate      with stall_after: instead of "stall" seconds, wait at this gate (as "hold" does) until
                    the test releases it: the head and the first bytes are out, the rest provably not yet
    hang            accept the request and never answer (until the client goes away)
    raw             text (latin-1, "\r\n" as needed) written to the socket verbatim in one write, in
                    place of the whole answer (head and body), then the connection is closed; nothing
                    is added (no X-Origin-Count, no Date): for malformed and badly framed responses
    raw_keep_open   with "raw": keep the connection open afterwards (read the next request on it)
    remove          forget the script for this path (back to the default answer); no other field needed

Without a script, a path answers 200, Content-Type: text/plain, Cache-Control: max-age=60 and the
body "origin:<path as received, query included>". Every answer that is not a reset or a hang carries
X-Origin-Count: the count for its path, this request included.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import select
import socket
import ssl
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


TIME_TEMPLATE = re.compile(r"\{now(?:([+-])(\d+))?(?::(imf|rfc850|asctime))?\}")
TIME_FORMATS = {"rfc850": "%A, %d-%b-%y %H:%M:%S GMT", "asctime": "%a %b %e %H:%M:%S %Y"}


def render_time(value, now):
    """A header value: a time template ("{now+20}") becomes the HTTP date it names, anything else is kept."""
    m = TIME_TEMPLATE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return value
    offset = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
    if m.group(3) in TIME_FORMATS:
        return time.strftime(TIME_FORMATS[m.group(3)], time.gmtime(int(now) + offset))
    return formatdate(int(now) + offset, usegmt=True)


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
        self.sent = {}
        self.conns = []  # reset forgets them, open ones included; they keep their own record
        self.gates = {}  # name -> {"arrived": n, "open": bool}; waiters use GATE_CHANGED


def now_conn(state, port):
    c = {"id": 0, "port": port, "opened": time.time(), "closed": None, "peer_closed": False, "paths": [],
         "sni": None, "tls_error": None}
    with state.lock:
        c["id"] = (state.conns[-1]["id"] + 1) if state.conns else 1
        state.conns.append(c)
    return c


STATE = State()
GATE_CHANGED = threading.Condition(STATE.lock)  # a gate opened (or a reset opened them all)


# Be a permissive origin: accept request lines and header blocks far larger than the stdlib's 64 KiB /
# 100 headers, so that a request the edge should have refused is counted here, not silently rejected.
http.client._MAXLINE = 1 << 20
http.client._MAXHEADERS = 100000
MAX_REQUEST_LINE = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-origin"
    sys_version = ""
    # The head and the body are separate writes: with Nagle, a keep-alive peer's delayed ACK would hold
    # the body back ~40 ms on every request.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    # --- the connection ------------------------------------------------------------------------
    def setup(self):
        self.conn = now_conn(STATE, self.client_address[1])
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.settimeout(10)
                self.request.do_handshake()
                self.request.settimeout(None)
            except (OSError, ValueError) as e:
                with STATE.lock:
                    self.conn["tls_error"] = str(e)
                    self.conn["closed"] = time.time()
                raise
            with STATE.lock:
                self.conn["sni"] = getattr(self.request, "e2e_sni", None)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            with STATE.lock:
                self.conn["closed"] = time.time()

    def peer_gone(self):
        with STATE.lock:
            self.conn["peer_closed"] = True

    def handle_one_request(self):
        # The stdlib's, with a 1 MiB request line instead of 64 KiB.
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.peer_gone()
                self.close_connection = True
                return
            if not self.parse_request():
                return
            with STATE.lock:
                self.conn["paths"].append(self.path)
            getattr(self, "do_" + self.command, self.do_unknown)()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True
        except (ConnectionError, ssl.SSLError):
            self.peer_gone()
            raise

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
            script = STATE.scripts.get(path, STATE.scripts.get("*"))
        if script is None:
            script = {"headers": {"Cache-Control": "max-age=60", "Content-Type": "text/plain"},
                      "body": "origin:" + url}
        self.answer(script, n)

    def answer(self, s, count):
        if s.get("hang"):
            return self.hang()
        if s.get("hold"):
            if not self.hold(str(s["hold"])):
                return
        if s.get("delay"):
            time.sleep(float(s["delay"]))
        if "raw" in s:
            self.wfile.write(str(s["raw"]).encode("latin-1"))
            self.wfile.flush()
            self.close_connection = not s.get("raw_keep_open")
            return

        now = time.time()  # one clock reading for every date in this head (see render_time)
        raw_headers = s.get("headers") or {}
        headers = [tuple(h) for h in raw_headers] if isinstance(raw_headers, list) else list(raw_headers.items())
        headers = [(k, render_time(v, now)) for k, v in headers]
        if s.get("etag"):
            headers.append(("ETag", s["etag"]))
        lm = s.get("last_modified")
        if lm is not None:
            headers.append(("Last-Modified", formatdate(float(lm), usegmt=True) if isinstance(lm, (int, float)) else render_time(lm, now)))
        headers.append(("X-Origin-Count", str(count)))
        if self.server.name is not None:
            headers.append(("X-Origin-Name", self.server.name))
        if not any(k.lower() == "date" for k, _ in headers):
            headers.append(("Date", formatdate(int(now), usegmt=True)))

        status = int(s.get("status", 200))
        if s.get("304_if_match") and self.not_modified(headers):
            status = 304
        if "body_size" in s:
            size = int(s["body_size"])
            get_body = lambda off, n: pattern_bytes(off, n)
        else:
            raw = (s.get("body") or "").encode()
            if s.get("body_from_header"):
                raw += (self.headers.get(s["body_from_header"]) or "").encode()
            for name in s.get("body_from_headers") or []:
                raw += ("|%s=%s" % (name, self.headers.get(name) or "")).encode()
            size = len(raw)
            get_body = lambda off, n: raw[off:off + n]
        no_body = status == 304 or status == 204 or 100 <= status < 200
        send_body = not no_body and self.command != "HEAD"

        for interim in s.get("interim") or []:
            code, fields = (interim, {}) if isinstance(interim, int) else (interim[0], interim[1] if len(interim) > 1 else {})
            self.send_response_only(int(code))
            for k, v in fields.items():
                self.send_header(k, v)
            self.end_headers()  # flushes the interim head by itself
        self.send_response_only(status)
        self.send_header("Server", self.version_string())
        for k, v in headers:
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
        sent_key = urllib.parse.urlsplit(self.path).path
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
                if s.get("stall_gate"):
                    if not self.hold(str(s["stall_gate"])):
                        return
                else:
                    time.sleep(float(s.get("stall", 2)))
                stall_after = None
            data = get_body(off, n)
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            off += n
            with STATE.lock:
                STATE.sent[sent_key] = STATE.sent.get(sent_key, 0) + n
        if reset_after is not None:
            return self.reset_connection()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        if lie is not None:
            # The body (whatever its size) is out; closing now leaves the declared length unmet.
            self.close_connection = True

    def not_modified(self, headers):
        headers = {k: v for k, v in headers}
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
                        return self.peer_gone()
                except OSError:
                    return self.peer_gone()

    def hold(self, name):
        """Waits until the gate `name` opens; False when the peer went away first (then do not answer)."""
        with STATE.lock:
            gate = STATE.gates.setdefault(name, {"arrived": 0, "open": False})
            gate["arrived"] += 1
        deadline = time.time() + 120
        while time.time() < deadline:
            with STATE.lock:
                # a reset replaces the gates: a request held across it goes on, like one released
                if gate["open"] or STATE.gates.get(name) is not gate:
                    return True
                GATE_CHANGED.wait(0.2)
            # The edge may give up on us (a read timeout): notice it, as hang() does (not under TLS,
            # whose socket cannot peek; there the held thread waits for the gate or the bound).
            if isinstance(self.connection, ssl.SSLSocket):
                continue
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        self.peer_gone()
                        self.close_connection = True
                        return False
                except OSError:
                    self.peer_gone()
                    self.close_connection = True
                    return False
        return True

    # --- control endpoints ---------------------------------------------------------------------
    def control(self, path, url, body):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        if path == "/__script" and self.command == "POST":
            try:
                scripts = json.loads(body or b"{}")
                scripts = scripts if isinstance(scripts, list) else [scripts]
                paths = [s["path"] for s in scripts]
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(400, "bad script: %s\n" % e)
            with STATE.lock:
                for s, p in zip(scripts, paths):
                    if s.get("remove"):
                        STATE.scripts.pop(p, None)
                    else:
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
        if path == "/__counts":
            with STATE.lock:
                text = json.dumps(STATE.count_by_path, indent=1, sort_keys=True)
            return self.reply(200, text + "\n", "application/json")
        if path == "/__sent":
            with STATE.lock:
                n = STATE.sent.get(q.get("path", [""])[0], 0)
            return self.reply(200, "%d\n" % n)
        if path == "/__release" and self.command == "POST":
            try:
                name = str(json.loads(body or b"{}")["gate"])
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(400, "bad release: %s\n" % e)
            with STATE.lock:
                STATE.gates.setdefault(name, {"arrived": 0, "open": False})["open"] = True
                GATE_CHANGED.notify_all()
            return self.reply(200, "ok\n")
        if path == "/__held":
            with STATE.lock:
                n = STATE.gates.get(q.get("gate", [""])[0], {}).get("arrived", 0)
            return self.reply(200, "%d\n" % n)
        if path == "/__conns":
            with STATE.lock:
                text = json.dumps(STATE.conns, indent=1)
            return self.reply(200, text + "\n", "application/json")
        if path == "/__reset" and self.command == "POST":
            with STATE.lock:
                STATE.reset()
                GATE_CHANGED.notify_all()
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
    name = None     # --name: the X-Origin-Name of every answer
    ssl_ctx = None  # --tls

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_ctx is not None:
            # the handshake happens in the connection's thread (Handler.setup), never in the accept loop
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        # A client (the edge) that goes away mid-answer is part of the tests, not an error to print.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, BrokenPipeError, OSError, ValueError)):
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


def write_port_file(path, port):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, path)


def blackhole(args):
    # Linux queues backlog + 1 established connections and then drops further SYNs (tcp_abort_on_overflow
    # 0, the default): our own connections take the queue, so the peer's connect(2) stays in SYN-SENT.
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", args.port))
    lsn.listen(0)
    port = lsn.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
    write_port_file(args.port_file, port)
    while True:
        time.sleep(0.5)
        if args.parent_pid:
            try:
                os.kill(args.parent_pid, 0)
            except ProcessLookupError:
                return


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--emit", type=int, metavar="N", help="write the N-byte body_size pattern to stdout")
    ap.add_argument("--name", help="send X-Origin-Name: NAME with every answer")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate and key")
    ap.add_argument("--blackhole", action="store_true", help="listen, never accept: connects hang")
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

    if args.blackhole:
        return blackhole(args)

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.name = args.name
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])

        def on_sni(sock, server_name, _ctx):
            sock.e2e_sni = server_name

        ctx.sni_callback = on_sni
        srv.ssl_ctx = ctx
    write_port_file(args.port_file, srv.server_address[1])
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

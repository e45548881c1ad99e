#!/usr/bin/env python3
"""bench/herd.py: many clients ask for one object nobody has fetched yet, all at once (bench/run.sh).

Usage: herd.py HOST PORT PATH N. Opens N connections, sends one GET on each, and reads every answer to
the end (30 s at most). Prints "HERD ok=... truncated=... other=... unfinished=...": ok counts the
complete 200 answers (body length = Content-Length).
"""
import selectors, socket, sys, time
host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
deadline = time.time() + 30
socks = [socket.create_connection((host, port), timeout=10) for _ in range(n)]
req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (path, host, port)).encode()
for s in socks:
    s.sendall(req)
    s.setblocking(False)
sel = selectors.DefaultSelector()
bufs = {}
for s in socks:
    sel.register(s, selectors.EVENT_READ)
    bufs[s] = bytearray()
answers = []
while bufs and time.time() < deadline:
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        try:
            data = s.recv(262144)
        except ConnectionError:
            data = b""
        if data:
            bufs[s] += data
            continue
        sel.unregister(s)
        s.close()
        b = bytes(bufs.pop(s))
        head, _, body = b.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ")[1] if lines[0].startswith("HTTP/") and " " in lines[0] else "none"
        hdrs = dict(l.split(":", 1) for l in lines[1:] if ":" in l)
        hdrs = {k.strip().lower(): v.strip() for k, v in hdrs.items()}
        whole = status == "200" and str(len(body)) == hdrs.get("content-length")
        answers.append((status, whole))
ok = sum(1 for st, whole in answers if whole)
print("HERD ok=%d truncated=%d other=%d unfinished=%d" % (
    ok, sum(1 for st, whole in answers if st == "200" and not whole),
    sum(1 for st, _ in answers if st != "200"), len(bufs)))

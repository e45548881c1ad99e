#!/usr/bin/env python3
"""bench/idle.py: the RSS of a proxy holding N idle keep-alive connections (bench/run.sh).

Usage: idle.py HOST PORT N PID... Reads VmRSS and RssAnon of the PIDs, opens N connections that each
get /1k.bin once and then stay open, reads them again, and prints "IDLE answered=... open=...
rss_before_kb=... anon_before_kb=... rss_after_kb=... anon_after_kb=... secs=...".
"""
import selectors, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pids = sys.argv[4:]
def rss():  # (VmRSS, RssAnon) in KB, summed over the processes
    total, anon = 0, 0
    for p in pids:
        try:
            for line in open("/proc/%s/status" % p):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon += int(line.split()[1])
        except OSError:
            pass
    return total, anon
before = rss()
req = ("GET /1k.bin HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port)).encode()
socks = []
t0 = time.time()
for _ in range(n):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(req)
    s.setblocking(False)
    socks.append(s)
sel = selectors.DefaultSelector()
need = {}
for s in socks:
    sel.register(s, selectors.EVENT_READ)
    need[s] = bytearray()
answered = 0
while need and time.time() < t0 + 60:
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except ConnectionError:
            data = b""
        b = need[s]
        b += data
        end = b.find(b"\r\n\r\n")
        if not data or (end >= 0 and len(b) >= end + 4 + 1024):
            sel.unregister(s)
            del need[s]
            answered += bool(data)
time.sleep(1)
after = rss()
open_ = 0
for s in socks:
    try:
        open_ += s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        open_ += 1
    except OSError:
        pass
print("IDLE answered=%d open=%d rss_before_kb=%d anon_before_kb=%d rss_after_kb=%d anon_after_kb=%d secs=%.1f" % (
    answered, open_, before[0], before[1], after[0], after[1], time.time() - t0))

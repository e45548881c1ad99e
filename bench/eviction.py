#!/usr/bin/env python3
"""bench/eviction.py: the trace and the simulations of bench/eviction.sh.

  eviction.py trace --requests N --objects M --alpha A --seed S --prefix P > TRACE
      One request path per line: object ranks drawn from a Zipf law over M objects (P(rank k) ∝ 1/k^A),
      with a seeded generator, so the same arguments give the same trace.

  eviction.py report --trace TRACE --samples FILE --origin N --edge-hits H --duration S [...]
      Replays TRACE through policies of a given capacity, cold-started like the edge was, and writes the
      Markdown report on stdout:
        - exact LRU, FIFO and random eviction with capacity C = the mean number of objects edgecache held
          from its first eviction to the end of the replay (the samples of edgecache_store_objects);
          exact LRU also at the lowest and highest counts seen then;
        - two models of edgecache's policy that split the gap to exact LRU into its causes:
          "watermarks": exact LRU order, but nothing is evicted until the count passes HIGH, then the
          least recently used objects go down to LOW (edgecache evicts on map pages, above 85 % of the
          map down to 70 %; HIGH and LOW are the highest and lowest object counts sampled after the first
          eviction);
          "watermarks + 1 s + batches": the same, where the order is the second of the last use *as the
          writer knows it*: a hit's use reaches the writer at the next whole second (the loops hand their
          touches over once a second) and is stamped with that second, objects used in the same second are
          in hash order (a random order here), and a stored miss is stamped with its own second. The
          trace's requests are spread evenly over the replay's measured duration.
"""
import argparse
import bisect
import collections
import random
import statistics
import sys


def cmd_trace(a):
    rnd = random.Random(a.seed)
    cdf, s = [], 0.0
    for k in range(1, a.objects + 1):
        s += 1.0 / k ** a.alpha
        cdf.append(s)
    out = sys.stdout
    for _ in range(a.requests):
        k = bisect.bisect_left(cdf, rnd.random() * s)
        out.write("%s%d\n" % (a.prefix, min(k, a.objects - 1)))


def lru(trace, cap):
    c, hits = collections.OrderedDict(), 0
    for x in trace:
        if x in c:
            hits += 1
            c.move_to_end(x)
        else:
            c[x] = None
            if len(c) > cap:
                c.popitem(last=False)
    return hits


def fifo(trace, cap):
    c, hits = collections.OrderedDict(), 0
    for x in trace:
        if x in c:
            hits += 1
        else:
            c[x] = None
            if len(c) > cap:
                c.popitem(last=False)
    return hits


def rand_evict(trace, cap, seed):
    rnd, slots, where, hits = random.Random(seed), [], {}, 0
    for x in trace:
        if x in where:
            hits += 1
            continue
        if len(slots) >= cap:
            i = rnd.randrange(len(slots))
            del where[slots[i]]
            last = slots.pop()
            if i < len(slots):
                slots[i] = last
                where[last] = i
        where[x] = len(slots)
        slots.append(x)
    return hits


def watermark_lru(trace, high, low):
    c, hits = collections.OrderedDict(), 0
    for x in trace:
        if x in c:
            hits += 1
            c.move_to_end(x)
        else:
            c[x] = None
            if len(c) > high:
                while len(c) > low:
                    c.popitem(last=False)
    return hits


def watermark_seconds(trace, high, low, duration, seed):
    """Watermarks, and the order the writer knows: (second of the last reported use, a random tie-break)."""
    rnd = random.Random(seed)
    tie = {}
    stamp = {}                       # object -> its second in the use order
    bucket = collections.defaultdict(set)  # second -> objects stamped with it
    pending = set()                  # hits not yet handed to the writer
    per_s = len(trace) / duration
    hits, tick = 0, 0
    for i, x in enumerate(trace):
        now = int(i / per_s)
        if now > tick:               # the loops hand over their touches, stamped with the hand-over second
            for y in pending:
                if y in stamp and stamp[y] != now:
                    bucket[stamp[y]].discard(y)
                    stamp[y] = now
                    bucket[now].add(y)
            pending.clear()
            tick = now
        if x in stamp:
            hits += 1
            pending.add(x)
            continue
        if x not in tie:
            tie[x] = rnd.random()
        stamp[x] = now
        bucket[now].add(x)
        if len(stamp) > high:
            for sec in sorted(bucket):
                for y in sorted(bucket[sec], key=tie.__getitem__):
                    if len(stamp) <= low:
                        break
                    del stamp[y]
                    bucket[sec].discard(y)
                if not bucket[sec]:
                    del bucket[sec]
                if len(stamp) <= low:
                    break
    return hits


def cmd_report(a):
    trace = [line.strip() for line in open(a.trace) if line.strip()]
    n = len(trace)
    samples = []
    for line in open(a.samples):
        f = line.split()
        if len(f) >= 3 and f[1].isdigit() and f[2].isdigit():
            samples.append((float(f[0]), int(f[1]), int(f[2])))
    steady = [s for s in samples if s[2] > 0] or samples
    counts = [s[1] for s in steady]
    cap = round(statistics.mean(counts))
    lo, hi = min(counts), max(counts)
    distinct = len(set(trace))
    edge = a.edge_hits / n

    def pct(h):
        return 100.0 * h / n

    rows = []
    exact = lru(trace, cap)
    rows.append(("exact LRU, capacity C = %d (edgecache's mean)" % cap, exact))
    rows.append(("exact LRU, capacity %d (edgecache's lowest count)" % lo, lru(trace, lo)))
    rows.append(("exact LRU, capacity %d (edgecache's highest count)" % hi, lru(trace, hi)))
    rows.append(("FIFO, capacity C", fifo(trace, cap)))
    rnds = [rand_evict(trace, cap, s) for s in range(5)]
    rows.append(("random eviction, capacity C (mean of 5 seeds: %s)" % ", ".join("%.2f %%" % pct(h) for h in rnds),
                 statistics.mean(rnds)))
    rows.append(("model: exact LRU order, evicting from %d down to %d" % (hi, lo), watermark_lru(trace, hi, lo)))
    wsec = [watermark_seconds(trace, hi, lo, a.duration, s) for s in range(3)]
    rows.append(("model: watermarks + 1 s order + batched touches (mean of 3 tie orders)", statistics.mean(wsec)))

    out = []
    out.append("| policy | hits | hit ratio | edgecache / this |")
    out.append("|---|---|---|---|")
    out.append("| **edgecache** (requests − origin requests) | %d | **%.2f %%** | |" % (a.edge_hits, 100 * edge))
    for name, h in rows:
        out.append("| %s | %.0f | %.2f %% | %.3f |" % (name, h, pct(h), a.edge_hits / h if h else float("nan")))
    out.append("")
    out.append("- trace: %d requests over %d distinct objects (of %d); the origin received %d of them, so edgecache"
               " had %d hits (the load generator counted %s responses with `x-cache: HIT`)" % (
                   n, distinct, a.objects, a.origin, a.edge_hits, a.wrk_hits))
    out.append("- edgecache_store_objects, sampled every 0.25 s: %d samples, %d after the first eviction (%.0f s into"
               " the replay); from then on mean %.0f, min %d, max %d, i.e. %.1f %% of the objects on average; %d"
               " evictions in all" % (len(samples), len(steady), steady[0][0] - samples[0][0] if steady else 0,
                                       statistics.mean(counts), lo, hi, 100.0 * cap / a.objects,
                                       samples[-1][2] if samples else 0))
    out.append("- **edgecache / exact LRU at the same mean capacity: %.3f** (%.2f %% against %.2f %%)" % (
        a.edge_hits / exact, 100 * edge, pct(exact)))
    saw, sec = rows[5][1], rows[6][1]
    out.append("")
    out.append("## What the approximation is, and where the difference comes from")
    out.append("")
    out.append(
        "edgecache's eviction is LRU with three approximations. (1) It evicts by map pages, not objects: when a write "
        "would take the map past 85 %% of `cache.max_size` it deletes least-recently-used objects down to 70 %%, so "
        "the number of objects held is a sawtooth (here %d to %d, mean %d) rather than a steady capacity, and right after "
        "an eviction it holds fewer objects than an LRU cache of the same mean size. (2) Its use order has one-second "
        "steps: objects last used in the same second are ordered by key hash, i.e. arbitrarily. (3) A hit costs no "
        "write: each event loop collects the hashes it served and hands them to the writer about once a second, "
        "stamped with the hand-over second, so an object hit just before an eviction may still be ranked by its "
        "previous use. Exact LRU moves an object to the front on every hit and holds exactly C objects." % (lo, hi, cap))
    out.append("")
    out.append("On this trace, in hit-ratio points against exact LRU at C = %d (%.2f %%):" % (cap, pct(exact)))
    out.append("")
    out.append("- the sawtooth alone (exact LRU order, evicting from %d down to %d): %+.2f" % (hi, lo, pct(saw) - pct(exact)))
    out.append("- the one-second order and batched uses, on top: %+.2f" % (pct(sec) - pct(saw)))
    out.append("- what the models leave out, the rest: %+.2f (edgecache %.2f %% against the second model's %.2f %%): "
               "the exact moments and sizes of the evictions (by pages, checked after about 1 %% of the map was "
               "written; 0.25 s samples may miss the extremes of the sawtooth), each loop's own one-second timer, and "
               "8 requests in flight at once instead of one after the other" % (100 * edge - pct(sec), 100 * edge, pct(sec)))
    out.append("")
    out.append("For scale: FIFO and random eviction at the same capacity are %.2f and %.2f points below exact LRU." % (
        pct(exact) - pct(rows[3][1]), pct(exact) - pct(rows[4][1])))
    sys.stdout.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trace")
    t.add_argument("--requests", type=int, required=True)
    t.add_argument("--objects", type=int, required=True)
    t.add_argument("--alpha", type=float, required=True)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--prefix", default="/e/")
    r = sub.add_parser("report")
    r.add_argument("--trace", required=True)
    r.add_argument("--samples", required=True, help="lines 'unix_time objects evictions' from /metrics")
    r.add_argument("--objects", type=int, required=True)
    r.add_argument("--origin", type=int, required=True)
    r.add_argument("--edge-hits", type=int, required=True)
    r.add_argument("--wrk-hits", default="?")
    r.add_argument("--duration", type=float, required=True, help="seconds the replay took")
    a = ap.parse_args()
    cmd_trace(a) if a.cmd == "trace" else cmd_report(a)


if __name__ == "__main__":
    main()

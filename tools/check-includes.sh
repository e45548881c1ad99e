#!/usr/bin/env python3
# tools/check-includes.sh: the module directions of docs/DESIGN (edge -> origin -> cache, edge -> reports
# -> cache, errorpages a leaf, common/ below all, nothing outside edge/ includes edge/), checked on every
# `#include "..."` of the project's C sources and headers; the subcommands kept apart from the serving
# code inside edge/; and the file-level include cycles.
#
#   tools/check-includes.sh [TOP]      exit 0: clean; 1: violations (file:line listed); 2: cannot run
#
# A cycle is counted between modules, not files: x.c and x.h are one node, and a module split over several
# files behind a private header (x_int.h: edge/req_fsm_int.h, cache/store_int.h) is one node with every
# file of its directory that includes that header. Any other header that has no .c of its own is a
# contract that other .c files implement, so including it depends on every .c that defines a function
# it declares.
# tests/ is outside the rule (a suite may include whatever it tests). Python 3 standard library only.
import os
import re
import subprocess
import sys

# Which top-level directories a file in each directory may include. A directory absent from the keys is
# not checked; None means "anything".
ALLOWED = {
    "common": {"common"},
    "errorpages": {"errorpages", "common"},
    "cache": {"cache", "common", "errorpages"},
    "origin": {"origin", "cache", "common", "errorpages"},
    "reports": {"reports", "cache", "common", "errorpages"},
    "edge": None,
}

# Inside edge/, the subcommands (clients of an edge: blocking, one thread) and the serving code (the event
# loops) stay apart: no file of one group includes a header of the other; only edge/main.c names both.
# Modules are named without their extension (x.c and x.h together).
APART = (
    {"edge/cli", "edge/httpc", "edge/purge_cli", "edge/report_cli", "edge/snapshot_cli", "edge/warm"},
    {"edge/admin", "edge/req_fsm", "edge/server"},
)

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
PREPROC = re.compile(r"^\s*#.*?(?<!\\)$", re.M | re.S)
# a prototype at file scope: "type name(args);" (a declaration) or "type name(args) {" (a definition)
PROTO = re.compile(r"^([A-Za-z_][^;{}()=]*?\b)([A-Za-z_]\w*)\s*\([^;{}]*\)\s*(;|\{)", re.M)


def sources(top):
    """The project's tracked .c/.h files under the checked directories (generated files are untracked)."""
    try:
        out = subprocess.run(["git", "-C", top, "ls-files", "--", *ALLOWED], check=True, capture_output=True, text=True).stdout
        files = out.split()
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(d, f), top) for k in ALLOWED for d, _, fs in os.walk(os.path.join(top, k)) for f in fs]
    return sorted(f for f in files if f.endswith((".c", ".h")) and f.split("/")[0] in ALLOWED)


UNIT = {}  # file -> the module it belongs to through a private header (filled by main)


def node(path):
    if path in UNIT:
        return UNIT[path]
    base = os.path.splitext(path)[0]
    return base[: -len("_int")] if base.endswith("_int") else base


def functions(text):
    """(declared, defined) names of the non-static functions at file scope of C `text`."""
    text = PREPROC.sub("", COMMENT.sub(" ", text))
    declared, defined = set(), set()
    for m in PROTO.finditer(text):
        words = m.group(1).split()
        if "static" in words or "typedef" in words or not words:
            continue
        (defined if m.group(3) == "{" else declared).add(m.group(2))
    return declared, defined


def main():
    top = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = sources(top)
    if not files:
        print("check-includes: no C sources under %s" % top, file=sys.stderr)
        return 2
    present = set(files)
    includes = {}  # file -> [(line number, included path)]
    declared, definer = {}, {}  # header -> names; name -> .c files defining it
    for f in files:
        with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fp:
            text = fp.read()
        includes[f] = []
        for n, line in enumerate(text.splitlines(), 1):
            m = INCLUDE.match(line)
            if m:
                inc = m.group(1)
                if "/" not in inc and os.path.join(os.path.dirname(f), inc) in present:
                    inc = os.path.join(os.path.dirname(f), inc)
                includes[f].append((n, inc))
        decl, defn = functions(text)
        if f.endswith(".h"):
            declared[f] = decl
        else:
            for name in defn:
                definer.setdefault(name, set()).add(f)

    # the files of a module split behind a private header "x_int.h" are that module
    for f in files:
        for _, inc in includes[f]:
            if inc.endswith("_int.h") and os.path.dirname(inc) == os.path.dirname(f):
                unit = inc[: -len("_int.h")]
                for base in (unit, os.path.splitext(f)[0]):
                    for member in (base + ".c", base + ".h"):
                        if member in present:
                            UNIT[member] = unit

    failed = False

    # 1. directions
    for f in files:
        allowed = ALLOWED[f.split("/")[0]]
        for n, inc in includes[f]:
            target = inc.split("/")[0]
            if allowed is None or "/" not in inc or target not in ALLOWED or target in allowed:
                continue
            print('%s:%d: #include "%s": %s/ may include only %s' % (f, n, inc, f.split("/")[0], ", ".join(d + "/" for d in sorted(allowed))))
            failed = True

    # 2. the subcommands and the serving code apart
    for f in files:
        for n, inc in includes[f]:
            for a, b in ((APART[0], APART[1]), (APART[1], APART[0])):
                if node(f) in a and node(inc) in b:
                    print('%s:%d: #include "%s": the subcommands and the serving code stay apart' % (f, n, inc))
                    failed = True

    # 3. cycles between nodes (x.c + x.h), headers standing for the .c files that implement them
    edges = {}  # node -> {node: (file, line, include)}
    for f in files:
        for n, inc in includes[f]:
            if inc not in present:
                continue
            owners = {node(inc)} if node(inc) + ".c" in present else set()
            for name in declared.get(inc, ()):
                owners |= {node(c) for c in definer.get(name, ())}
            if not owners:
                owners = {node(inc)}  # a header of types and inline functions only
            for o in owners:
                if o != node(f):
                    edges.setdefault(node(f), {}).setdefault(o, (f, n, inc))
    for scc in strongly_connected(edges):
        members = sorted(scc)
        print("cycle: %s" % " <-> ".join(members))
        for a in members:
            for b, (f, n, inc) in sorted(edges.get(a, {}).items()):
                if b in scc:
                    via = "" if node(inc) == b else " (declares what %s.c defines)" % b
                    print('  %s:%d: #include "%s"%s' % (f, n, inc, via))
        failed = True
    return 1 if failed else 0


def strongly_connected(edges):
    """Tarjan's algorithm; the components of more than one node."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out, key=sorted)


if __name__ == "__main__":
    sys.exit(main())

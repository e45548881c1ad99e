#!/usr/bin/env python3
"""tests/fleet/mkmmdb.py: writes a tiny MaxMind DB (the .mmdb format of GeoIP2/GeoLite2) that places IPv4
networks in countries and continents, so that the fleet test can exercise PowerDNS's GeoIP backend without a
real (licensed, large) database. Python 3 standard library only.

    mkmmdb.py OUT.mmdb NETWORK=CC/CONTINENT ...      e.g.  192.0.2.0/24=US/NA  198.51.100.0/24=FR/EU

The file holds an IPv4 search tree (24-bit records), the data section (for each network the map
{"country": {"iso_code": CC}, "continent": {"code": CONTINENT}}, the fields a City or Country database has
there) and the metadata, as the MaxMind DB format specification (version 2.0) lays them out.
"""
import ipaddress
import struct
import sys
import time


def ctrl(kind, size):
    """The control bytes of a field of type `kind` (1..15) and `size`."""
    extended = kind > 7
    if size < 29:
        head, tail = size, b""
    elif size < 29 + 256:
        head, tail = 29, bytes([size - 29])
    elif size < 285 + 65536:
        head, tail = 30, struct.pack(">H", size - 285)
    else:
        head, tail = 31, struct.pack(">I", size - 65821)[1:]
    first = ((0 if extended else kind) << 5) | head
    return bytes([first]) + (bytes([kind - 7]) if extended else b"") + tail


def enc(value, kind=None):
    """Encodes a str, a dict, a list, or an int (as uint16 by default, else `kind`: 6 uint32, 9 uint64)."""
    if isinstance(value, str):
        raw = value.encode()
        return ctrl(2, len(raw)) + raw
    if isinstance(value, dict):
        return ctrl(7, len(value)) + b"".join(enc(k) + enc(v) for k, v in value.items())
    if isinstance(value, list):
        return ctrl(11, len(value)) + b"".join(enc(v) for v in value)
    kind = kind or 5
    raw = value.to_bytes(8, "big").lstrip(b"\0")
    return ctrl(kind, len(raw)) + raw


def main(argv):
    out, specs = argv[1], argv[2:]
    # the data section: one record per distinct (country, continent)
    data, offsets, leaves = b"", {}, []
    for spec in specs:
        net, where = spec.split("=")
        cc, cont = where.split("/")
        if (cc, cont) not in offsets:
            offsets[(cc, cont)] = len(data)
            data += enc({"country": {"iso_code": cc}, "continent": {"code": cont}})
        leaves.append((ipaddress.ip_network(net), offsets[(cc, cont)]))
    # the search tree: a node is [left, right], each a node, ("data", offset) or None (nothing there)
    root = [None, None]
    for net, off in leaves:
        node, bits = root, int(net.network_address)
        for i in range(net.prefixlen):
            bit = (bits >> (31 - i)) & 1
            if i == net.prefixlen - 1:
                node[bit] = ("data", off)
            else:
                if not isinstance(node[bit], list):
                    node[bit] = [None, None]
                node = node[bit]
    nodes, queue = [], [root]
    while queue:  # number the nodes breadth first
        node = queue.pop(0)
        nodes.append(node)
        queue.extend(child for child in node if isinstance(child, list))
    index = {id(n): i for i, n in enumerate(nodes)}
    count = len(nodes)

    def record(child):
        if child is None:
            return count
        if isinstance(child, list):
            return index[id(child)]
        return count + 16 + child[1]

    tree = b"".join(struct.pack(">I", record(n[0]))[1:] + struct.pack(">I", record(n[1]))[1:] for n in nodes)
    meta = enc({
        "node_count": count,
        "record_size": 24,
        "ip_version": 4,
        "database_type": "GeoIP2-City",
        "languages": ["en"],
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "description": {"en": "edgecache fleet test"},
    })
    # the two fields whose type the readers check: node_count uint32, build_epoch uint64
    meta = meta.replace(enc("node_count") + enc(count), enc("node_count") + enc(count, 6))
    meta = ctrl(7, 9) + meta[1:] + enc("build_epoch") + enc(int(time.time()), 9)
    with open(out, "wb") as fp:
        fp.write(tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + meta)


if __name__ == "__main__":
    main(sys.argv)

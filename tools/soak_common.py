"""tools/soak_common.py: what the soak's origin and its clients must agree on, in one place.

The working set (paths, sizes, which paths vary on Accept-Language, freshness) is a pure function of
the URL count, and a body is a pure function of (path, version, language tag): so a client can check
any response, a whole body or a Range slice of one, without asking the origin what it sent.

Invariant: a body names its path, version and language in every 64-byte record and its first 128
bytes carry its length and the SHA-256 of the rest, so a body served for the wrong URL, the wrong
variant, a stale version or a truncated transfer can never pass body_check().
"""
import hashlib
import zlib

HEAD_LEN = 128  # the first line: path, version, language, length, sha256 of the rest
REC_LEN = 64  # every later line: path, version, language, offset
MIN_SIZE = 1024
MAX_SIZE = 512 * 1024
GROUPS = 8  # paths are /g<i % GROUPS>/<i>: prefix purges take one group
LANGS = ("en", "fr", "de-DE,de;q=0.9", None)  # Accept-Language values clients send (None: absent)


def _h(i, salt):
    return zlib.crc32(("%s:%d" % (salt, i)).encode()) & 0xFFFFFFFF


def path_of(i):
    return "/g%d/%d" % (i % GROUPS, i)


def index_of(path):
    return int(path.rsplit("/", 1)[1])


def size_of(i):
    """Log-uniform between MIN_SIZE and MAX_SIZE: most objects small, a few large."""
    frac = _h(i, "size") / 0xFFFFFFFF
    return int(MIN_SIZE * (MAX_SIZE / MIN_SIZE) ** frac)


def varies(i):
    """One path in five answers Vary: Accept-Language."""
    return i % 5 == 0


def cache_control(i):
    max_age = (5, 15, 30, 60, 120)[_h(i, "ttl") % 5]
    extra = ("", ", stale-while-revalidate=10", ", stale-if-error=60")[_h(i, "stale") % 3]
    return "max-age=%d%s" % (max_age, extra)


def lang_tag(i, accept_language):
    """The language a body names: the whole Accept-Language value (spaces removed) on a varying
    path, so that any two variants differ; '-' on a path that does not vary."""
    if not varies(i):
        return "-"
    if accept_language is None:
        return "none"
    return accept_language.replace(" ", "")


def _record(path, version, tag, off):
    line = "%s v=%d lang=%s off=%d" % (path, version, tag, off)
    return line.ljust(REC_LEN - 1)[: REC_LEN - 1] + "\n"


def make_body(path, version, tag):
    size = size_of(index_of(path))
    parts = []
    off = HEAD_LEN
    while off < size:
        parts.append(_record(path, version, tag, off))
        off += REC_LEN
    rest = "".join(parts).encode()[: size - HEAD_LEN]
    head = "SOAK %s v=%d lang=%s len=%d sha256=%s" % (
        path, version, tag, size, hashlib.sha256(rest).hexdigest())
    head = head.ljust(HEAD_LEN - 1)[: HEAD_LEN - 1] + "\n"
    return head.encode() + rest


def parse_head(body):
    """(path, version, lang, length, sha) of a body's first line, or None."""
    try:
        f = body[:HEAD_LEN].decode("ascii").split()
        if len(f) < 6 or f[0] != "SOAK":
            return None
        return (f[1], int(f[2][2:]), f[3][5:], int(f[4][4:]), f[5][7:])
    except (UnicodeDecodeError, ValueError, IndexError):
        return None


def parse_record_at(body, start):
    """(path, version, lang) of the first whole record in `body`, a slice of a whole body that
    begins at its byte `start`; None if the slice holds no whole record."""
    if start == 0:
        h = parse_head(body)
        return None if h is None else h[:3]
    first = HEAD_LEN if start <= HEAD_LEN else HEAD_LEN + -(-(start - HEAD_LEN) // REC_LEN) * REC_LEN
    i = first - start
    rec = body[i : i + REC_LEN]
    if len(rec) < REC_LEN:
        return None
    try:
        f = rec.decode("ascii").split()
        return (f[0], int(f[1][2:]), f[2][5:])
    except (UnicodeDecodeError, ValueError, IndexError):
        return None


def body_check(body, path, tag):
    """None when body is a whole, intact body of path with language tag; else the reason."""
    h = parse_head(body)
    if h is None:
        return ("not-a-soak-body", "first bytes %r" % body[:80])
    bpath, _version, btag, blen, sha = h
    if bpath != path:
        return ("wrong-url", "body of %s" % bpath)
    if btag != tag:
        return ("wrong-variant", "lang=%s, expected %s" % (btag, tag))
    want = size_of(index_of(path))
    if blen != want or len(body) != want:
        return ("truncated", "length %d, head says %d, expected %d" % (len(body), blen, want))
    if hashlib.sha256(body[HEAD_LEN:]).hexdigest() != sha:
        return ("hash-mismatch", "sha256 of the body differs from its head")
    return None

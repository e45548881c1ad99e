#!/usr/bin/env python3
# tools/md2man.py: turns one page of docs/man/edgecache.md (the single source of edgecache(8) and
# edgecache.yaml(5)) into roff for man(7). The build runs it (Makefile.am); nothing generated is kept in git.
#
#   tools/md2man.py SOURCE PAGE VERSION > PAGE.roff       e.g. PAGE "edgecache.yaml(5)"
#
# The source is a small subset of Markdown, and anything outside it is an error rather than bad roff:
#   # name(S) — summary         starts a page (the NAME section comes from it); the pages follow one another
#   ## TITLE                    a section (.SH); ### a subsection (.SS)
#   text                        paragraphs, separated by blank lines; **bold**, *italic*, `literal` (bold)
#   - item                      a bulleted list (continuation lines indented by two spaces)
#   `term` / **term**  then ": definition" on the next line: a tagged paragraph (.TP), as man pages list options
#   ```                         a literal block (.nf), copied as it is (only escaped)
# Python 3 standard library only.
import re
import sys


def esc(text):
    """Roff escapes for running text: backslash, and '-' as a real minus (options must be typed as shown)."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def inline(text):
    out = []
    pos = 0
    for m in re.finditer(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*", text):
        out.append(esc(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        else:
            out.append("\\fI" + esc(m.group(3)) + "\\fR")
        pos = m.end()
    out.append(esc(text[pos:]))
    line = "".join(out)
    # a line that starts with a control character would be taken as a request
    return "\\&" + line if line[:1] in (".", "'") else line


def pages(lines):
    """{'name(S)': (summary, body lines)} in source order."""
    found, cur = {}, None
    for line in lines:
        m = re.match(r"^# (\S+\(\d\)) — (.+)$", line)
        if m:
            cur = m.group(1)
            found[cur] = (m.group(2), [])
        elif line.startswith("# "):
            sys.exit("md2man: a page title must read '# name(S) — summary': " + line)
        elif cur is not None:
            found[cur][1].append(line)
    return found


def convert(page, summary, body, version):
    name, section = re.match(r"^(\S+)\((\d)\)$", page).groups()
    out = ['.TH "%s" "%s" "" "edgecache %s" "edgecache"' % (esc(name.upper()), section, version),
           ".SH NAME", "%s \\- %s" % (esc(name), inline(summary))]
    i, para = 0, False
    while i < len(body):
        line = body[i]
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if line.startswith("```"):
            out += [".PP" if not para else "", ".RS 4", ".nf"]
            i += 1
            while i < len(body) and not body[i].startswith("```"):
                out.append("\\&" + esc(body[i]))
                i += 1
            if i == len(body):
                sys.exit("md2man: %s: unterminated ``` block" % page)
            out += [".fi", ".RE"]
            para = False
        elif line.startswith("## "):
            out.append(".SH " + esc(line[3:].upper()))
            para = False
        elif line.startswith("### "):
            out.append(".SS " + inline(line[4:]))
            para = False
        elif line.strip() == "":
            para = False
        elif nxt.startswith(": "):
            out += [".TP", inline(line), inline(nxt[2:])]
            i += 2
            while i < len(body) and body[i].startswith("  ") and body[i].strip():
                out.append(inline(body[i].strip()))
                i += 1
            para = True
            continue
        elif line.startswith("- "):
            out += [".IP \\(bu 2", inline(line[2:])]
            i += 1
            while i < len(body) and body[i].startswith("  ") and body[i].strip():
                out.append(inline(body[i].strip()))
                i += 1
            para = True
            continue
        else:
            if not para:
                out.append(".PP")
                para = True
            out.append(inline(line.strip()))
        i += 1
    return "\n".join(l for l in out if l != "") + "\n"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: md2man.py SOURCE PAGE VERSION")
    with open(sys.argv[1], encoding="utf-8") as f:
        found = pages(f.read().splitlines())
    if sys.argv[2] not in found:
        sys.exit("md2man: no page %s in %s (pages: %s)" % (sys.argv[2], sys.argv[1], ", ".join(found)))
    summary, body = found[sys.argv[2]]
    sys.stdout.write(convert(sys.argv[2], summary, body, sys.argv[3]))


if __name__ == "__main__":
    main()

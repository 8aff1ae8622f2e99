#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Checks the reviewer's HTML report as a browser read it.

Given the reconcile document the report was made from ({"summary",
"actions"}), the DOM Chromium dumped after loading the report, and
optionally the screenshot, checks what a reviewer would see:

- the page holds only the elements and attributes the report writes (no
  script, image, link, frame, form or event handler: nothing from a log
  became markup);
- "Actions with problems" comes before every action with problems, in the
  order given, and those before "Actions in agreement" and the actions in
  agreement after it;
- each action's reason and each problem's kind appear as text, a reason
  with markup in it verbatim (hostile strings are text, not markup);
- each SENTENCE given with --expect appears in the page's text;
- the screenshot, if given, is a non-empty PNG of the window's size.

Prints "ok - ..." or "NOT OK - ..." per check and "N passed, N failed";
exit 0 when all pass, 1 when any fails, 2 on usage errors.
"""
import argparse
import json
import struct
import sys
from html.parser import HTMLParser

ELEMENTS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2",
    "h3", "h4", "p", "span", "strong", "code", "time", "table", "colgroup",
    "col", "tbody", "tr", "th", "td", "section", "article", "ul", "li",
    "div", "dl", "dt", "dd", "br", "footer",
}
ATTRIBUTES = {"class", "style", "lang", "charset", "http-equiv", "content",
              "name"}
# Code points the report shows as U+FFFD (cli/reconcile_html.c).
REPLACED = set(range(0x20)) | set(range(0x7f, 0xa0)) | {
    0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d,
    0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff}


class Page(HTMLParser):
    """The text outside <style> and <title>, and every tag and attribute."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.tags = []
        self.attrs = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, a) for a, _ in attrs)
        if tag in ("style", "title"):
            self._skip += 1
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip -= 1
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._skip == 0:
            self.text.append(data)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, why=""):
        if ok:
            self.passed += 1
            print("ok - " + name)
        else:
            self.failed += 1
            print("NOT OK - " + name + (": " + why if why else ""))


def shown(s):
    """A string as the report shows it (replaced code points)."""
    return "".join("\ufffd" if ord(c) in REPLACED else c for c in s)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or \
            head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("document")
    ap.add_argument("dom")
    ap.add_argument("--screenshot")
    ap.add_argument("--size", default="1200,1600")
    ap.add_argument("--expect", action="append", default=[])
    args = ap.parse_args()
    try:
        with open(args.document, encoding="utf-8") as f:
            doc = json.load(f)
        with open(args.dom, encoding="utf-8") as f:
            dom = f.read()
    except (OSError, ValueError) as e:
        print("report_check: %s" % e, file=sys.stderr)
        return 2

    c = Checks()
    page = Page()
    page.feed(dom)
    page.close()
    text = "".join(page.text)

    c.check("the DOM is the report's",
            page.title == "signet audit reconciliation" and
            "Logs reconciled" in text, "title %r" % page.title)
    extra = sorted(set(page.tags) - ELEMENTS)
    c.check("no element but the report's", not extra, "found %s" % extra)
    bad = sorted({"%s[%s]" % (t, a) for t, a in page.attrs
                  if a not in ATTRIBUTES})
    c.check("no attribute but the report's", not bad, "found %s" % bad)

    actions = doc.get("actions") or []
    problems = [a for a in actions if a.get("problems")]
    agreeing = [a for a in actions if not a.get("problems")]
    p_at = text.find("Actions with problems")
    g_at = text.find("Actions in agreement")
    c.check("problems section before agreement section",
            0 <= p_at < g_at, "at %d and %d" % (p_at, g_at))
    at = p_at
    for a in problems:
        i = text.find(a["action_id"], at + 1)
        c.check("problem action %s in order, in its section" % a["action_id"],
                p_at < i < g_at, "at %d (section %d..%d)" % (i, p_at, g_at))
        at = max(i, at)
        for p in a["problems"]:
            kind = p.get("kind", "")
            j = text.find(kind, i)
            c.check("problem %s of %s shown" % (kind, a["action_id"]),
                    i < j < g_at if i >= 0 else False)
    at = g_at
    for a in agreeing:
        i = text.find(a["action_id"], at + 1)
        c.check("action %s in agreement, in order" % a["action_id"],
                i > g_at, "at %d (section from %d)" % (i, g_at))
        at = max(i, at)
    for a in actions:
        r = a.get("reason")
        if isinstance(r, str) and r:
            c.check("reason of %s shown as text" % a.get("action_id"),
                    shown(r) in text, "%r not in the page's text" % r)
    for s in args.expect:
        c.check("the page says %r" % s, s in text)

    if args.screenshot:
        want = tuple(int(x) for x in args.size.split(","))
        size = png_size(args.screenshot)
        c.check("screenshot is a PNG of %dx%d" % want, size == want,
                "got %s" % (size,))

    print("%d passed, %d failed" % (c.passed, c.failed))
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

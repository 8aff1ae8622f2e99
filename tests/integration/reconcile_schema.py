#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Checks a signetctl audit reconcile -o json report (a file, or - for
stdin) against docs/schema/reconcile.schema.json, and that the actions
with problems come first and the summary's counts match the actions.
Prints "ok: N actions" or each error; exit 0 valid, 1 not, 2 usage.
Needs python3-jsonschema (4.18 or later)."""
import json
import os
import sys

import jsonschema
from referencing import Registry, Resource

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "docs", "schema"))


def main():
    if len(sys.argv) != 2:
        print("usage: reconcile_schema.py REPORT.json|-", file=sys.stderr)
        return 2
    docs = []
    for name in ("defs.schema.json", "reconcile.schema.json"):
        with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
            docs.append(json.load(f))
    registry = Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in docs)
    validator = jsonschema.Draft202012Validator(docs[1], registry=registry)
    src = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8")
    report = json.load(src)
    errors = [e.message for e in validator.iter_errors(report)]
    if not errors:
        acts = report["actions"]
        s = report["summary"]
        bad = [bool(a["problems"]) for a in acts]
        if bad != sorted(bad, reverse=True):
            errors.append("an action without problems comes before one with")
        if s["actions"] != len(acts) or s["with_problems"] != sum(bad):
            errors.append("the summary's counts are not the actions'")
    for e in errors:
        print("error: " + e)
    if errors:
        return 1
    print("ok: %d actions" % len(report["actions"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

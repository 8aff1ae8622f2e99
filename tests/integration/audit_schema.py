#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Checks audit logs against the contract's JSON Schemas (docs/schema).

Every line of every log given must be a JSON object that validates against
docs/schema/audit-record.schema.json (the record) and against the schema
of its own event, docs/schema/audit/EVENT.schema.json (its actor and
data). An event without a schema is an error: the writers may only write
what docs/audit.md describes. Prints "ok FILE: N records" per file, or
"FILE:LINE: why" for each bad line (at most 20 per file). Exit 0 when all
lines are valid, 1 when any is not, 2 on usage errors, unreadable files or
a schema that is itself invalid. Needs python3-jsonschema (4.18 or later).

With --export the files are `signetctl audit export` output instead: each
line must validate against docs/schema/export-record.schema.json and
against its event's schema (which fixes actor and data there too).
"""
import argparse
import json
import os
import sys

import jsonschema
from referencing import Registry, Resource

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "docs",
                                                   "schema"))
MAX_REPORTS = 20


def load_schemas(schema_dir, record_name="audit-record.schema.json"):
    """Returns (record validator, {event: validator}) or raises."""
    docs = {}
    for root, _dirs, files in os.walk(schema_dir):
        for name in sorted(files):
            if name.endswith(".schema.json"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    docs[path] = json.load(f)
    registry = Registry()
    for path, doc in docs.items():
        if "$id" not in doc:
            raise ValueError("%s: no $id" % path)
        jsonschema.Draft202012Validator.check_schema(doc)
        registry = registry.with_resource(doc["$id"],
                                          Resource.from_contents(doc))

    def validator(doc):
        return jsonschema.Draft202012Validator(doc, registry=registry)

    record_path = os.path.join(schema_dir, record_name)
    record = validator(docs[record_path])
    events = {}
    audit_dir = os.path.join(schema_dir, "audit")
    for path, doc in docs.items():
        if os.path.dirname(path) == audit_dir:
            event = os.path.basename(path)[:-len(".schema.json")]
            events[event] = validator(doc)
    return record, events


def first_error(validator, doc):
    errors = sorted(validator.iter_errors(doc),
                    key=lambda e: (len(e.absolute_path), str(e.message)))
    if not errors:
        return None
    e = errors[0]
    where = "/".join(str(p) for p in e.absolute_path) or "top level"
    return "%s at %s" % (e.message, where)


def check_file(path, record, events):
    """Returns the number of bad lines; prints what it found."""
    bad = 0
    n = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            n += 1
            why = None
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                why = "not JSON: %s" % exc
                doc = None
            if why is None:
                why = first_error(record, doc)
            if why is None:
                event = doc["event"]
                if event not in events:
                    why = "event %r has no schema in docs/schema/audit" % event
                else:
                    why = first_error(events[event], doc)
                    if why is not None:
                        why = "event %s: %s" % (event, why)
            if why is not None:
                bad += 1
                if bad <= MAX_REPORTS:
                    print("%s:%d: %s" % (path, lineno, why))
    if bad == 0:
        print("ok %s: %d records" % (path, n))
    elif bad > MAX_REPORTS:
        print("%s: %d more bad lines" % (path, bad - MAX_REPORTS))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schema-dir", default=DEFAULT_SCHEMA_DIR)
    ap.add_argument("--export", action="store_true",
                    help="the files are `signetctl audit export` output")
    ap.add_argument("logs", nargs="+", metavar="LOG")
    args = ap.parse_args()
    try:
        record, events = load_schemas(
            args.schema_dir, "export-record.schema.json" if args.export
            else "audit-record.schema.json")
    except (OSError, ValueError, KeyError,
            jsonschema.exceptions.SchemaError) as exc:
        print("audit_schema: schemas in %s unusable: %s"
              % (args.schema_dir, exc))
        return 2
    bad = 0
    for path in args.logs:
        try:
            bad += check_file(path, record, events)
        except OSError as exc:
            print("audit_schema: %s: %s" % (path, exc))
            return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""Schema evolution check: BACKWARD_TRANSITIVE, by the Avro specification's resolution rules.

The current schema of an event type (the reader) must read data written with every released
version (the writers). The rules implemented ("Schema Resolution" in the Avro spec):

* records match by unqualified name (or a reader alias); each reader field takes the writer
  field of the same name (or alias), else its default; a reader field without a default that
  the writer lacks is a problem; writer fields the reader dropped are skipped (fine);
* enums match by name; a writer symbol the reader lacks is a problem unless the reader enum
  has a ``default``;
* fixed types match by name and size; arrays by items; maps by values;
* promotions: int -> long, float, double; long -> float, double; float -> double;
  string <-> bytes;
* unions: every writer branch must resolve to some reader branch; a non-union writer must
  resolve to some branch of a reader union; a writer union read by a non-union reader needs
  every branch to resolve to it;
* logical types: a decimal must keep its scale and not lose precision; adding, removing or
  changing a logical type changes what the stored numbers mean and is reported.

No maintained Python library implements these checks (fastavro resolves data at read time
but has no schema-to-schema compatibility API), so they are implemented here structurally,
on fastavro-parsed schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchange.schemas import SchemaRegistry

PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
NAMED = frozenset({"record", "error", "enum", "fixed"})


def _collect_names(schema: Any, names: dict[str, Any]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect_names(branch, names)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in NAMED:
            names[schema["name"]] = schema
        for field in schema.get("fields", []) if kind in ("record", "error") else []:
            _collect_names(field["type"], names)
        if kind == "array":
            _collect_names(schema["items"], names)
        if kind == "map":
            _collect_names(schema["values"], names)


class _Checker:
    def __init__(self, writer: Any, reader: Any) -> None:
        self.writer_names: dict[str, Any] = {}
        self.reader_names: dict[str, Any] = {}
        _collect_names(writer, self.writer_names)
        _collect_names(reader, self.reader_names)
        self.seen: set[tuple[str, str]] = set()  # named pairs in progress: recursive types

    def resolve(self, schema: Any, names: Mapping[str, Any]) -> Any:
        if isinstance(schema, str) and schema in names:
            return names[schema]
        return schema

    def kind(self, schema: Any) -> str:
        if isinstance(schema, list):
            return "union"
        if isinstance(schema, str):
            return schema
        return str(schema["type"])

    def check(self, writer: Any, reader: Any, path: str) -> list[str]:
        w = self.resolve(writer, self.writer_names)
        r = self.resolve(reader, self.reader_names)
        wk, rk = self.kind(w), self.kind(r)
        if wk == "union":
            problems: list[str] = []
            for branch in w:
                bk = self.kind(self.resolve(branch, self.writer_names))
                if rk != "union" and bk != rk and rk not in PROMOTIONS.get(bk, frozenset()):
                    problems.append(f"{path}: writer union branch {self.describe(branch)} "
                                    f"cannot be read as {self.describe(r)}")
                else:
                    problems.extend(self.check(branch, r, path))
            return problems
        if rk == "union":
            for branch in r:
                if not self.check(w, branch, path):
                    return []
            return [f"{path}: writer type {self.describe(w)} matches no branch of the "
                    f"reader union {[self.describe(b) for b in r]}"]
        if wk != rk and rk not in PROMOTIONS.get(wk, frozenset()):
            return [f"{path}: type changed from {self.describe(w)} to {self.describe(r)}, "
                    "which is not a permitted promotion"]
        if rk in NAMED:
            return self.check_named(w, r, rk, path)
        if rk == "array":
            return self.check(w["items"], r["items"], f"{path}[]")
        if rk == "map":
            return self.check(w["values"], r["values"], f"{path}{{}}")
        return self.check_logical(w, r, path)

    def describe(self, schema: Any) -> str:
        if isinstance(schema, dict):
            name = schema.get("name") or schema["type"]
            logical = schema.get("logicalType")
            return f"{name}({logical})" if logical else str(name)
        return str(schema)

    def check_named(self, w: Mapping[str, Any], r: Mapping[str, Any], kind: str,
                    path: str) -> list[str]:
        w_short = str(w["name"]).rsplit(".", 1)[-1]
        r_names = {str(n).rsplit(".", 1)[-1] for n in [r["name"], *r.get("aliases", [])]}
        if w_short not in r_names:
            return [f"{path}: {kind} name changed from {w['name']} to {r['name']} "
                    "(add an alias to rename)"]
        pair = (str(w["name"]), str(r["name"]))
        if pair in self.seen:
            return []
        self.seen.add(pair)
        try:
            if kind == "enum":
                missing = [s for s in w["symbols"] if s not in r["symbols"]]
                if missing and "default" not in r:
                    return [f"{path}: enum {r['name']} lost symbol(s) {', '.join(missing)} "
                            "and has no default"]
                return []
            if kind == "fixed":
                if w["size"] != r["size"]:
                    return [f"{path}: fixed {r['name']} size changed {w['size']} -> {r['size']}"]
                return self.check_logical(w, r, path)
            return self.check_record(w, r, path)
        finally:
            self.seen.discard(pair)

    def check_record(self, w: Mapping[str, Any], r: Mapping[str, Any], path: str) -> list[str]:
        writer_fields = {f["name"]: f for f in w["fields"]}
        problems: list[str] = []
        prefix = f"{path}." if path else ""
        for field in r["fields"]:
            candidates = [field["name"], *field.get("aliases", [])]
            match = next((writer_fields[n] for n in candidates if n in writer_fields), None)
            where = f"{prefix}{field['name']}"
            if match is None:
                if "default" not in field:
                    problems.append(f"{where}: field added without a default; data written "
                                    "by this version lacks it")
                continue
            problems.extend(self.check(match["type"], field["type"], where))
        return problems

    def check_logical(self, w: Any, r: Any, path: str) -> list[str]:
        wl = w.get("logicalType") if isinstance(w, dict) else None
        rl = r.get("logicalType") if isinstance(r, dict) else None
        if wl != rl:
            return [f"{path}: logical type changed from {wl or 'none'} to {rl or 'none'}"]
        if rl == "decimal":
            if w.get("scale", 0) != r.get("scale", 0):
                return [f"{path}: decimal scale changed {w.get('scale', 0)} -> "
                        f"{r.get('scale', 0)}"]
            if r["precision"] < w["precision"]:
                return [f"{path}: decimal precision reduced {w['precision']} -> "
                        f"{r['precision']}"]
        return []


def backward_problems(writer: Any, reader: Any) -> list[str]:
    """Why ``reader`` cannot read all data written with ``writer`` (parsed); [] if it can."""
    return _Checker(writer, reader).check(writer, reader, "")


def check_registry(registry: SchemaRegistry) -> list[str]:
    """BACKWARD_TRANSITIVE over the registry: each current schema against all its releases."""
    problems: list[str] = []
    for event_type in registry.event_types():
        event = registry.event(event_type)
        for version in event.versions:
            for problem in backward_problems(version.schema, event.schema):
                problems.append(f"{event_type} v{event.version} cannot read v{version.version}: "
                                f"{problem.lstrip(': ') or problem}")
    return problems


def main() -> int:
    """``python -m exchange.compat [schemas_dir]``: print problems, exit 1 if there are any."""
    import sys

    from exchange.schemas import default_registry

    registry = SchemaRegistry.load(sys.argv[1]) if len(sys.argv) > 1 else default_registry()
    problems = check_registry(registry)
    for problem in problems:
        print(problem)
    count = sum(len(registry.event(et).versions) for et in registry.event_types())
    print(f"{len(registry.event_types())} event types, {count} released versions: "
          f"{'BACKWARD_TRANSITIVE ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a stale YAML file's difference means as data: the key paths added, removed or changed, with
documents matched by kind and name, or "formatting only" when the data is the same. A text diff of a
re-indented file changes every line and hides the one value that matters."""
from __future__ import annotations

import itertools
import json
import math
import re

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser is ~10x faster where built

MAX_BYTES = 5 * 1024 * 1024  # larger files get only the text diff
MAX_SHOWN = 200  # differences listed; the rest are counted
MAX_NODES = 1_000_000  # values compared: aliases can make a small file a huge tree ("billion laughs")
MAX_VALUE = 80  # characters of a value shown
FORMATTING_ONLY = "formatting only: the YAML data is the same (indentation, quoting, key order or comments differ)"
MISSING = "missing in the committed file"  # the build produces it
ONLY_COMMITTED = "only in the committed file"  # the build does not produce it
_PLAIN_KEY = re.compile(r"[\w$-]+")


class _TooLarge(Exception):
    pass


def describe(path: str, committed: bytes, built: bytes) -> str | None:
    """The semantic difference of a YAML file, one finding a line; None when `path` is not YAML, a
    side does not parse or the file is too large (the caller shows the text diff alone)."""
    if not path.endswith((".yaml", ".yml")) or max(len(committed), len(built)) > MAX_BYTES:
        return None
    try:
        old, new = _documents(committed), _documents(built)
        differences = _stream_differences(old, new, _Budget())
        shown = list(itertools.islice(differences, MAX_SHOWN))
        more = _count(differences)
    except (yaml.YAMLError, ValueError, RecursionError, _TooLarge):
        return None  # ValueError: undecodable bytes or impossible dates; RecursionError: a self-referencing alias
    if not shown:
        return FORMATTING_ONLY
    if more is None:
        return "\n".join([f"the YAML data differs in more than {len(shown)} places:", *shown,
                          "... and more (too many to count)"])
    lines = [f"the YAML data differs in {len(shown) + more} place(s):", *shown]
    if more:
        lines.append(f"... and {more} more difference(s)")
    return "\n".join(lines)


def _count(differences) -> int | None:
    """How many are left; None when counting them would walk too much."""
    try:
        return sum(1 for _ in differences)
    except (RecursionError, _TooLarge):
        return None


def _documents(text: bytes) -> list:
    # Empty documents (a stray `---`) carry no data; Kubernetes tools skip them too.
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc is not None]


class _Budget:
    def __init__(self):
        self.left = MAX_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _TooLarge


def _stream_differences(old: list, new: list, budget: _Budget):
    """Documents paired by identity (or by position among those without one), then compared."""
    pairs, only_old, only_new = _pair(old, new)
    named = len(old) > 1 or len(new) > 1 or any(_identity(doc) for doc in old + new)
    for index, a, b in pairs:
        prefix = _document_name(a, index) + ": " if named else ""
        for where, what in _differences(a, b, "", budget):
            yield f"{prefix}{where or 'the document'}: {what}"
    for index, doc in only_old:
        yield f"{_document_name(doc, index)}: {ONLY_COMMITTED}"
    for index, doc in only_new:
        yield f"{_document_name(doc, index)}: {MISSING}"


def _pair(old: list, new: list):
    """(committed position, committed doc, built doc) pairs, and the unpaired docs of each side."""
    def keyed(docs):
        seen: dict = {}
        keys = []
        for doc in docs:
            identity = _identity(doc)
            seen[identity] = seen.get(identity, -1) + 1  # repeated identities pair in order
            keys.append((identity, seen[identity]))
        return keys

    new_at = {key: i for i, key in enumerate(keyed(new))}
    pairs, only_old = [], []
    for i, key in enumerate(keyed(old)):
        j = new_at.pop(key, None)
        if j is None:
            only_old.append((i, old[i]))
        else:
            pairs.append((i, old[i], new[j]))
    only_new = [(j, new[j]) for j in sorted(new_at.values())]
    return pairs, only_old, only_new


def _identity(doc) -> tuple | None:
    """(apiVersion, kind, namespace, name) of a Kubernetes object, else None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
        return None
    kind, name = doc.get("kind"), doc["metadata"].get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    return (str(doc.get("apiVersion")), kind, str(doc["metadata"].get("namespace") or ""), name)


def _document_name(doc, index: int) -> str:
    identity = _identity(doc)
    if identity is None:
        return f"document {index + 1}"
    _, kind, namespace, name = identity
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


def _differences(a, b, where: str, budget: _Budget):
    """(key path, what differs) from committed `a` to built `b`."""
    budget.spend()
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key in b:
                yield from _differences(a[key], b[key], _key_path(where, key), budget)
            else:
                yield _key_path(where, key), ONLY_COMMITTED
        for key in b:
            if key not in a:
                yield _key_path(where, key), MISSING
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(min(len(a), len(b))):
            yield from _differences(a[i], b[i], f"{where}[{i}]", budget)
        for i in range(len(b), len(a)):
            yield f"{where}[{i}]", ONLY_COMMITTED
        for i in range(len(a), len(b)):
            yield f"{where}[{i}]", MISSING
    elif not _same_scalar(a, b):
        yield where, f"committed {_show(a)} vs built {_show(b)}"


def _same_scalar(a, b) -> bool:
    # Types too: YAML `true`, `1` and `1.0` are different data, though Python finds them equal.
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _key_path(where: str, key) -> str:
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{where}.{key}" if where else key
    try:
        written = json.dumps(key, ensure_ascii=False)  # quotes a string; writes 1, true, null as YAML would
    except (TypeError, ValueError):
        written = str(key)  # a date or another non-JSON key
    return f"{where}[{written}]"


def _show(value) -> str:
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key(s)"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 3] + "..."

"""Package a chart directory into a Helm chart archive, deterministically: what `helm package
--version V --app-version A` does, minus everything that varies between machines and runs.

    digest, size = package_chart("deploy/chart", "out", "1.2.3", "1.2.3", source_date_epoch=0)
    # out/NAME-1.2.3.tgz, NAME from Chart.yaml's `name`

The archive is written by `ksbuild.images.layer.write_layer` (the image layers' deterministic tar
writer): entries sorted, under `NAME/`, regular files and their parent directories only, owned by
0:0 with empty owner names, mode 0644 (0755 for a file with an execute bit, and for directories),
mtime `source_date_epoch`; gzip with mtime 0, no file name and a fixed compression level. So the
same chart, wherever it sits on disk and whenever it is packaged, gives the same bytes.

Chart.yaml is copied byte for byte except its `version` and `appVersion` values, replaced in place
(`ksbuild.versioning.locate`); a chart without `appVersion` gets an `appVersion:` line appended.
A value YAML would read as something other than the string given (`1.0`, `true`) is quoted.

`.helmignore` is read as Helm reads it (`helm.sh/helm/v4/pkg/ignore`): one Go `filepath.Match`
pattern per line (`*` and `?` stop at `/`), `#` comments, a trailing `/` for directories only, a
pattern with a `/` matched against the path from the chart's root and one without against the base
name, `!` negation with Helm's own meaning, `**` refused; `templates/.?*` is always ignored. An
ignored directory is skipped whole. `.helmignore` itself is packaged, as Helm does.

Refused, each a ChartError naming the file: a symlink whose target is outside the chart (a symlink
to a file inside is packaged as that file's content; a symlinked directory is refused), a device,
socket or pipe, a Chart.yaml without `name` or `version`, a name that is not a single path part.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import NamedTuple

import yaml

from ksbuild.images.layer import LayerFile, write_layer
from ksbuild.images.oci import ImageError
from ksbuild.versioning.locate import Located, NotFound, locate, replace

CHART_FILE = "Chart.yaml"
HELMIGNORE = ".helmignore"
DEFAULT_IGNORE = "templates/.?*"
MAX_CHART_FILE = 1 * 2**20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class ChartError(Exception):
    """A chart that cannot be packaged or pushed: the message names the file and what to do."""


class PackagedChart(NamedTuple):
    digest: str  # "sha256:<hex>" of the .tgz
    size: int


def package_chart(chart_dir: str, destination: str, version: str, app_version: str,
                  source_date_epoch: int = 0) -> PackagedChart:
    """Write `destination/NAME-VERSION.tgz` (atomically) and return its digest and size."""
    for what, value in (("version", version), ("app_version", app_version)):
        if not isinstance(value, str) or not value or any(c in value for c in "\n\r\"'\\"):
            raise ChartError(f"{chart_dir}: {what} {value!r} must be a one-line string without quotes")
    chart_file = os.path.join(chart_dir, CHART_FILE)
    text = _read_chart_file(chart_file)
    name = chart_name(text, chart_file)
    stamped = stamp_chart_file(text, version, app_version, chart_file)
    files = [LayerFile(f"{name}/{CHART_FILE}", stamped.encode("utf-8"), 0o644)]
    for relative, path, mode in chart_files(chart_dir):
        if relative != CHART_FILE:
            files.append(LayerFile(f"{name}/{relative}", path, mode))
    os.makedirs(destination, exist_ok=True)
    try:
        layer = write_layer(files, source_date_epoch, os.path.join(destination, archive_name(name, version)))
    except ImageError as err:
        raise ChartError(f"{chart_dir}: {err}") from None
    return PackagedChart(layer.digest, layer.size)


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}.tgz"


def chart_name(text: str, where: str) -> str:
    """The chart's `name` from Chart.yaml's text: one path part (it names the archive's root)."""
    try:
        name = _field(text, "name", where).value
    except NotFound:
        raise ChartError(f"{where}: no `name`: a chart needs one") from None
    if not _NAME.match(name) or name in (".", ".."):
        raise ChartError(f"{where}: name {name!r} is not a chart name (letters, digits, '.', '_', '-')")
    return name


def stamp_chart_file(text: str, version: str, app_version: str, where: str) -> str:
    """Chart.yaml's text with `version` and `appVersion` set, every other byte as it was."""
    try:
        found = _field(text, "version", where)
    except NotFound:
        raise ChartError(f"{where}: no `version`: a chart needs one (its value is replaced)") from None
    text = _replace(text, found, version)
    try:
        found = _field(text, "appVersion", where)
        text = _replace(text, found, app_version)
    except NotFound:
        text += ("" if not text or text.endswith("\n") else "\n") + f"appVersion: {_scalar(app_version)}\n"
    loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict) or loaded.get("version") != version or loaded.get("appVersion") != app_version:
        raise ChartError(f"{where}: could not set version and appVersion in place (write each as a plain or "
                         "quoted one-line value)")
    return text


def chart_files(chart_dir: str) -> list[tuple[str, str, int]]:
    """(path from the chart's root, file to read, mode) of every file to package, sorted."""
    root = os.path.realpath(chart_dir)
    if not os.path.isdir(root):
        raise ChartError(f"{chart_dir}: not a directory")
    rules = IgnoreRules.read(os.path.join(chart_dir, HELMIGNORE))
    found: list[tuple[str, str, int]] = []

    def walk(directory: str, prefix: str) -> None:
        with os.scandir(directory) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            relative = prefix + entry.name
            shown = os.path.join(chart_dir, relative)
            info = os.lstat(entry.path)
            target = entry.path
            if stat.S_ISLNK(info.st_mode):
                resolved = os.path.realpath(entry.path)
                if os.path.commonpath([root, resolved]) != root or resolved == root:
                    raise ChartError(f"{shown}: a symlink leading out of the chart ({os.readlink(entry.path)}): "
                                     "copy the file into the chart instead")
                try:
                    info = os.stat(resolved)
                except OSError:
                    raise ChartError(f"{shown}: a dangling symlink") from None
                if stat.S_ISDIR(info.st_mode):
                    raise ChartError(f"{shown}: a symlinked directory is not packaged: make it a directory")
                target = resolved
            if stat.S_ISDIR(info.st_mode):
                if not rules.ignored(relative, True):
                    walk(entry.path, relative + "/")
                continue
            if rules.ignored(relative, False):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise ChartError(f"{shown}: not a regular file (a device, socket or pipe): charts hold files only")
            found.append((relative, target, 0o755 if info.st_mode & 0o111 else 0o644))

    walk(root, "")
    return found


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern
    negate: bool
    must_dir: bool
    basename: bool


class IgnoreRules:
    """`.helmignore` patterns, matched as Helm's `ignore.Rules.Ignore` does."""

    def __init__(self, patterns: list[_Pattern]):
        self.patterns = patterns

    @classmethod
    def read(cls, path: str) -> "IgnoreRules":
        lines: list[str] = []
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                data = handle.read(MAX_CHART_FILE + 1)
            if len(data) > MAX_CHART_FILE:
                raise ChartError(f"{path}: more than {MAX_CHART_FILE} bytes")
            lines = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").splitlines()
        return cls.parse(lines + [DEFAULT_IGNORE], path)

    @classmethod
    def parse(cls, lines: list[str], where: str = HELMIGNORE) -> "IgnoreRules":
        patterns = []
        for number, line in enumerate(lines, 1):
            rule = line.strip()
            if not rule or rule.startswith("#"):
                continue
            if "**" in rule:
                raise ChartError(f"{where}:{number}: {rule!r}: '**' is not supported (Helm refuses it too)")
            negate = rule.startswith("!")
            rule = rule[1:] if negate else rule
            must_dir = rule.endswith("/")
            rule = rule.rstrip("/") if must_dir else rule
            basename = "/" not in rule
            rule = rule.removeprefix("/")
            try:
                regex = re.compile(go_match_regex(rule))
            except ValueError as err:
                raise ChartError(f"{where}:{number}: {line.strip()!r}: {err}") from None
            patterns.append(_Pattern(regex, negate, must_dir, basename))
        return cls(patterns)

    def ignored(self, path: str, is_dir: bool) -> bool:
        for p in self.patterns:
            name = path.rsplit("/", 1)[-1] if p.basename else path
            matched = p.regex.fullmatch(name) is not None
            if p.negate:
                if (p.must_dir and not is_dir) or not matched:
                    return True
                continue
            if p.must_dir and not is_dir:
                continue
            if matched:
                return True
        return False


def go_match_regex(pattern: str) -> str:
    """A regular expression for Go's `filepath.Match` pattern (ValueError when it is malformed)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i == len(pattern):
                raise ValueError("a pattern ends with '\\'")
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end, body, i = _char_class(pattern, i + 1)
            out.append(body)
            i = end
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _char_class(pattern: str, i: int) -> tuple[int, str, int]:
    """The class starting after '[' at `i`: (index after its ']', its regex, same index)."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    items: list[str] = []
    while True:
        if i >= len(pattern):
            raise ValueError("an unclosed '['")
        if pattern[i] == "]" and items:
            break
        low, i = _class_char(pattern, i)
        if i < len(pattern) and pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
            if high < low:
                raise ValueError("a character range runs backwards")
            items.append(f"{re.escape(low)}-{re.escape(high)}")
        else:
            items.append(re.escape(low))
    body = "".join(items)
    return i + 1, (f"[^{body}]" if negate else f"[{body}]"), i + 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One character of a class (Go refuses an unescaped '-' or ']' where a character belongs)."""
    if i >= len(pattern):
        raise ValueError("an unclosed '['")
    if pattern[i] in "-]":
        raise ValueError(f"a bad character class at {pattern[i]!r}")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("a pattern ends with '\\'")
    return pattern[i], i + 1


def _read_chart_file(path: str) -> str:
    if os.path.islink(path) or not os.path.isfile(path):
        raise ChartError(f"{path}: missing (or not a regular file): a chart directory holds a Chart.yaml")
    with open(path, "rb") as handle:
        data = handle.read(MAX_CHART_FILE + 1)
    if len(data) > MAX_CHART_FILE:
        raise ChartError(f"{path}: more than {MAX_CHART_FILE} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ChartError(f"{path}: not UTF-8") from None


def _field(text: str, key: str, where: str) -> Located:
    try:
        return locate(text, yaml_path=key)
    except NotFound as err:
        if "not valid YAML" in str(err):
            raise ChartError(f"{where}: {err}") from None
        raise


def _replace(text: str, found: Located, value: str) -> str:
    span = text[found.start:found.end]
    quoted = span[:1] in ("'", '"')
    return replace(text, found, value) if quoted else text[:found.start] + _scalar(value) + text[found.end:]


def _scalar(value: str) -> str:
    """`value` as a plain YAML scalar when YAML reads it back as that string, else double-quoted."""
    try:
        plain = yaml.safe_load(f"k: {value}\n")
    except yaml.YAMLError:
        plain = None
    return value if isinstance(plain, dict) and plain.get("k") == value else '"' + value + '"'

"""Entries from a store are trusted for nothing; keys change with what changes outputs."""
import base64
import hashlib
import json
from dataclasses import replace

import pytest

from ksbuild.cache import entry as entries
from ksbuild.cache.config import MAX_ENTRY_SIZE
from ksbuild.cache.digests import StatCache
from ksbuild.cache.key import action_key as key_of, explain_miss
from ksbuild.exec.pending import Pending
from ksbuild.model import ActionSpec

ACTION = ActionSpec(mnemonic="Gen", description="gen", argv=("gen",), inputs=(("in.txt", "app/in.txt"),),
                    outputs=(("mod/out.txt", "app/out.txt"),), output_dirs=(("mod/gen", "app/gen"),))
DIGEST = "ab" * 32


def encoded(outputs, dirs) -> bytes:
    return json.dumps({"format": 2, "outputs": outputs, "dirs": dirs}).encode()


def good_dirs(files=()):
    return [{"path": "app/gen", "files": list(files)}]


def test_a_valid_entry_maps_to_execution_paths():
    data = encoded([{"path": "app/out.txt", "digest": DIGEST, "size": 3, "mode": 0o644}],
                   good_dirs([{"name": "a/b.go", "digest": DIGEST, "size": 1, "mode": 0o755}]))
    files = entries.decode(data, ACTION)
    assert [(f.exec_path, f.workspace_path, f.mode) for f in files] == [
        ("mod/out.txt", "app/out.txt", 0o644), ("mod/gen/a/b.go", "app/gen/a/b.go", 0o755)]


@pytest.mark.parametrize("outputs, dirs, reason", [
    ([{"path": "/etc/passwd", "digest": DIGEST, "size": 1, "mode": 0o644}], good_dirs(), "not a declared output"),
    ([{"path": "app/../../x", "digest": DIGEST, "size": 1, "mode": 0o644}], good_dirs(), "not a declared output"),
    ([{"path": "app/other.txt", "digest": DIGEST, "size": 1, "mode": 0o644}], good_dirs(), "not a declared output"),
    ([], good_dirs(), "does not hold every declared output"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o644}],
     good_dirs([{"name": "../escape.go", "digest": DIGEST, "size": 1, "mode": 0o644}]), "not a plain relative path"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o644}],
     good_dirs([{"name": "/abs.go", "digest": DIGEST, "size": 1, "mode": 0o644}]), "not a plain relative path"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o644}],
     [{"path": "app/elsewhere", "files": []}], "does not match the declared output directories"),
    ([{"path": "app/out.txt", "digest": "not-hex", "size": 1, "mode": 0o644}], good_dirs(), "bad digest"),
    ([{"path": "app/out.txt", "digest": DIGEST, "size": 1, "mode": 0o4755}], good_dirs(), "bad digest, size or mode"),
])
def test_bad_entries_are_rejected(outputs, dirs, reason):
    with pytest.raises(entries.InvalidEntry, match=reason):
        entries.decode(encoded(outputs, dirs), ACTION)


def test_malformed_entries_are_rejected():
    for data in (b"not json", b"[]", json.dumps({"format": 99}).encode(), encoded("x", [])):
        with pytest.raises(entries.InvalidEntry):
            entries.decode(data, ACTION)


def test_keys_follow_inputs_commands_and_tools(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app/in.txt").write_text("one\n")
    stat_cache = StatCache(str(tmp_path))
    (tmp_path / ".ksbuild").mkdir()
    workspace = Pending(str(tmp_path))  # nothing pending: inputs are read from the workspace

    def action_key(root, action, rule, tools, go, cache):
        return key_of(action, rule, tools, go, lambda path: workspace.digest(path, cache), workspace.source_dir)

    base = action_key(str(tmp_path), ACTION, "gen@1", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    same = action_key(str(tmp_path), ACTION, "gen@1", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    assert base.key == same.key
    other_tool = action_key(str(tmp_path), ACTION, "gen@1", {"gen": "cd" * 32}, ["go1.26", "linux-amd64"], stat_cache)
    other_rule = action_key(str(tmp_path), ACTION, "gen@2", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    assert len({base.key, other_tool.key, other_rule.key}) == 3
    assert explain_miss(base.record(), other_tool) == "no entry for this key; tools changed since the last run here"
    (tmp_path / "app/in.txt").write_text("two\n")
    changed = action_key(str(tmp_path), ACTION, "gen@1", {"gen": DIGEST}, ["go1.26", "linux-amd64"], stat_cache)
    assert changed.key != base.key
    assert explain_miss(base.record(), changed) == "no entry for this key; input changed: app/in.txt"


def test_names_starting_with_dots_are_plain_and_dot_dot_parts_are_not():
    ok = encoded([{"path": "app/out.txt", "digest": DIGEST, "size": 3, "mode": 0o644}],
                 good_dirs([{"name": "..hidden/.x", "digest": DIGEST, "size": 1, "mode": 0o644}]))
    assert [f.workspace_path for f in entries.decode(ok, ACTION)] == ["app/out.txt", "app/gen/..hidden/.x"]
    for name in ("a/../b", "a/./b", "a//b", "a/", "..", "", "a\0b", "\ud800"):
        bad = encoded([{"path": "app/out.txt", "digest": DIGEST, "size": 3, "mode": 0o644}],
                      good_dirs([{"name": name, "digest": DIGEST, "size": 1, "mode": 0o644}]))
        with pytest.raises(entries.InvalidEntry, match="not a plain relative path"):
            entries.decode(bad, ACTION)


@pytest.mark.parametrize("names, reason", [
    (["zz", "zz/b"], "names both 'app/gen/zz' and 'app/gen/zz/b': a file cannot also be a directory"),
    (["zz/b/c", "zz/b"], "names both 'app/gen/zz/b' and 'app/gen/zz/b/c'"),
    (["a.go", "a.go"], "names 'app/gen/a.go' twice"),
])
def test_a_layout_that_cannot_be_laid_out_is_rejected(names, reason):
    data = encoded([{"path": "app/out.txt", "digest": DIGEST, "size": 3, "mode": 0o644}],
                   good_dirs([{"name": name, "digest": DIGEST, "size": 1, "mode": 0o644} for name in names]))
    with pytest.raises(entries.InvalidEntry, match=reason):
        entries.decode(data, ACTION)


def test_signed_entries_verify_only_for_their_key_action_and_content():
    secret, key = b"0123456789abcdef0123", "c" * 64
    files = [entries.OutputFile("mod/out.txt", "app/out.txt", DIGEST, 3, 0o644),
             entries.OutputFile("mod/gen/a.go", "app/gen/a.go", DIGEST, 1, 0o644)]
    signed = entries.encode(ACTION, files, key, secret)
    assert entries.decode(signed, ACTION, key, secret) == files
    assert entries.decode(signed, ACTION) == files  # a reader that does not require signatures ignores it
    document = json.loads(signed)
    for wrong_key, wrong_action, data, reason in [
        (b"another-secret-0123456", key, signed, "bad signature"),
        (secret, "d" * 64, signed, "bad signature"),
        (secret, key, signed.replace(b'"size":3', b'"size":4'), "bad signature"),
        (secret, key, entries.encode(ACTION, files, key), "is not signed"),
        (secret, key, json.dumps(dict(document, signature={"scheme": "hmac-sha1", "mac": "00"})).encode(),
         "unknown scheme 'hmac-sha1'"),
        (secret, key, json.dumps(dict(document, signature="abc")).encode(), "malformed signature"),
    ]:
        with pytest.raises(entries.InvalidEntry, match=reason):
            entries.decode(data, ACTION, wrong_action, wrong_key)


def test_decoding_garbage_only_ever_raises_invalid_entry():
    import random

    files = [entries.OutputFile("mod/out.txt", "app/out.txt", DIGEST, 3, 0o644),
             entries.OutputFile("mod/gen/a/b.go", "app/gen/a/b.go", DIGEST, 1, 0o755)]
    good = entries.encode(ACTION, files, "c" * 64, b"0123456789abcdef0123")
    chance = random.Random(7)
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(chance.randint(1, 4)):
            where = chance.randrange(len(data))
            choice = chance.random()
            if choice < 0.4:
                data[where] = chance.randrange(256)
            elif choice < 0.7:
                del data[where:where + chance.randint(1, 20)]
            else:
                data[where:where] = chance.choice([b"[", b"{", b'"', b"..", b"/", b"\\ud800", b"1e999", b"true", b","])
        try:
            entries.decode(bytes(data), ACTION, "c" * 64, b"0123456789abcdef0123" if chance.random() < 0.5 else None)
        except entries.InvalidEntry:
            pass


def _described(tmp_path, files: dict[str, bytes]) -> list:
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    return entries.describe_outputs(str(tmp_path), ACTION)


def test_small_files_travel_inside_the_entry_and_large_ones_as_blobs(tmp_path):
    large = b"x" * (entries.INLINE_FILE_LIMIT + 1)
    files = _described(tmp_path, {"mod/out.txt": large, "mod/gen/a.go": b"package gen\n", "mod/gen/empty": b""})
    assert [(f.workspace_path, f.content) for f in files] == [
        ("app/out.txt", None), ("app/gen/a.go", b"package gen\n"), ("app/gen/empty", b"")]
    assert [f.workspace_path for f in entries.blobs(files)] == ["app/out.txt"]
    decoded = entries.decode(entries.encode(ACTION, files, "c" * 64, b"0123456789abcdef0123"), ACTION, "c" * 64,
                             b"0123456789abcdef0123")
    assert decoded == files


def test_inline_contents_stop_at_the_entry_budget(tmp_path):
    each = entries.INLINE_FILE_LIMIT
    count = entries.INLINE_TOTAL_LIMIT // each + 2
    files = _described(tmp_path, {"mod/out.txt": b"o", **{f"mod/gen/{i:03}": bytes([i]) * each for i in range(count)}})
    inline = [f for f in files if f.content is not None]
    assert sum(f.size for f in inline) <= entries.INLINE_TOTAL_LIMIT
    assert len(entries.blobs(files)) >= 2


def test_an_entry_that_would_be_too_large_with_its_contents_goes_without_them():
    many = ActionSpec(mnemonic="Gen", description="gen", argv=("gen",), inputs=(), outputs=(),
                      output_dirs=(("mod/gen", "app/gen"),))
    content = b"package gen\n" * 20
    files = [entries.OutputFile(f"mod/gen/{'n' * 150}{i:05}.go", f"app/gen/{'n' * 150}{i:05}.go",
                                hashlib.sha256(content).hexdigest(), len(content), 0o644, content) for i in range(3000)]
    data = entries.encode(many, files)
    assert len(data) <= MAX_ENTRY_SIZE and b'"content"' not in data
    assert entries.blobs(entries.decode(data, many)) == entries.blobs([replace(f, content=None) for f in files])


@pytest.mark.parametrize("content, reason", [
    (base64.b64encode(b"abd").decode(), "does not match its size and digest"),
    (base64.b64encode(b"abcd").decode(), "does not match its size and digest"),
    ("YWJj!", "malformed content"),
    ("YWJj\n", "malformed content"),
    (12, "malformed content"),
    ("QUFB" * 1000, "malformed content"),  # far longer than its size: refused before it is decoded
])
def test_inline_content_is_checked_like_a_blob(content, reason):
    row = {"path": "app/out.txt", "digest": hashlib.sha256(b"abc").hexdigest(), "size": 3, "mode": 0o644,
           "content": content}
    with pytest.raises(entries.InvalidEntry, match=reason):
        entries.decode(encoded([row], good_dirs()), ACTION)


def test_content_belongs_only_on_file_rows():
    row = {"path": "app/out.txt", "digest": hashlib.sha256(b"abc").hexdigest(), "size": 3, "mode": 0o644,
           "content": base64.b64encode(b"abc").decode()}
    assert entries.decode(encoded([row], good_dirs()), ACTION)[0].content == b"abc"
    with pytest.raises(entries.InvalidEntry, match="malformed"):
        entries.decode(encoded([row], [{"path": "app/gen", "files": [], "content": "YWJj"}]), ACTION)

"""Parallel workers (`doit -n N`) creating and using one stat cache at once: every one gets its digests."""
from __future__ import annotations

import multiprocessing
import os
import time


def _digest_at(root: str, moment: float) -> set[str]:
    import time

    from ksbuild.cache.digests import StatCache

    time.sleep(max(0.0, moment - time.time()))  # every worker opens the new database at the same moment
    digests = set()
    for round in range(40):  # writers keep the database busy while the others open it
        cache = StatCache(root)
        digests |= {cache.digest(f"input{n}.txt") for n in range(5)}
        cache.close()
    return digests


def test_workers_creating_the_stat_cache_at_once_all_get_their_digest(tmp_path):
    for n in range(5):
        (tmp_path / f"input{n}.txt").write_text("hello\n")
    os.makedirs(tmp_path / ".ksbuild")
    moment = time.time() + 1.0
    with multiprocessing.get_context("fork").Pool(6) as pool:
        digests = set().union(*pool.starmap(_digest_at, [(str(tmp_path), moment)] * 6))
    assert digests == {"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}


def test_what_a_target_learns_is_written_once_at_its_end(tmp_path):
    import sqlite3

    from ksbuild.cache.digests import StatCache

    os.makedirs(tmp_path / ".ksbuild")
    an_hour_ago = time.time() - 3600
    for n in range(3):
        (tmp_path / f"input{n}.txt").write_text(f"{n}\n")
        os.utime(tmp_path / f"input{n}.txt", (an_hour_ago, an_hour_ago))
    cache = StatCache(str(tmp_path))
    digests = [cache.digest(f"input{n}.txt") for n in range(3)]
    cache.set_key_record("app:t", '{"actions": []}')
    assert cache.key_record("app:t") == {"actions": []}  # seen by this process before it is written

    def stored() -> tuple[int, int]:
        other = sqlite3.connect(tmp_path / ".ksbuild/stat-cache.sqlite")
        try:
            return (other.execute("SELECT COUNT(*) FROM files").fetchone()[0],
                    other.execute("SELECT COUNT(*) FROM keys").fetchone()[0])
        finally:
            other.close()

    assert stored() == (0, 0)
    cache.flush()
    assert stored() == (3, 1)
    (tmp_path / "input0.txt").write_text("changed\n")  # a new mtime: hashed again, not taken from the row
    assert cache.digest("input0.txt") != digests[0]
    cache.close()
    reopened = StatCache(str(tmp_path))
    assert [reopened.digest(f"input{n}.txt") for n in (1, 2)] == digests[1:]
    assert reopened.key_record("app:t") == {"actions": []}
    reopened.close()


def test_a_forked_worker_opens_a_stat_cache_of_its_own(tmp_path):
    from ksbuild.cache.digests import stat_cache_for

    os.makedirs(tmp_path / ".ksbuild")
    parent = stat_cache_for(str(tmp_path))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_is_the_parents, (str(tmp_path), id(parent))) is False
    assert stat_cache_for(str(tmp_path)) is parent


def _is_the_parents(root: str, parent_id: int) -> bool:
    from ksbuild.cache.digests import stat_cache_for

    return id(stat_cache_for(root)) == parent_id

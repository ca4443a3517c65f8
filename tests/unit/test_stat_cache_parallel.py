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

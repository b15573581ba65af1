"""The join's writes to its table's local store (RocksDB without the write-ahead log).

The records and the changelog offset a restore may start after go in one write batch, so a
worker killed before RocksDB flushed keeps an earlier state whose offset matches its
records, and Faust's restore reads the changelog from there (see ``app._store_writer``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import faust
import pytest
from faust.types import TP

from exchange.worker.app import _store_writer

pytestmark = pytest.mark.unit

CHANGELOG = "exchange.internal.test-changelog"

# Opens the table's store under a data directory, as the worker does (Faust's RocksDB store
# through rocksdict), and reports or writes as its arguments say.
SCRIPT = textwrap.dedent("""
    import os, sys
    import faust
    from faust.types import TP
    from exchange.worker.app import _store_writer
    datadir, action = sys.argv[1], sys.argv[2]
    app = faust.App("store-test", store="rocksdb://", datadir=datadir, web_enabled=False)
    table = app.Table("records", key_type=bytes, value_type=bytes, partitions=2)
    store = table.data
    db = store._db_for_partition(1)
    if action == "read":
        print(store.persisted_offset(TP(sys.argv[3], 1)), db.get(b"first"), db.get(b"second"))
        sys.stdout.flush()
        os._exit(0)
    write = _store_writer(store, sys.argv[3])
    if action == "first":
        write(1, [(b"first", b"1")], 41)
        db.close()  # a clean stop flushes what the log did not keep
    else:
        write(1, [(b"second", b"2")], 42)
        os._exit(9)  # killed: nothing flushed
""")


def _run(datadir: Path, action: str) -> str:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(datadir), action, CHANGELOG],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 9), done.stderr
    return done.stdout.strip()


def test_records_and_their_offset_are_written_together(tmp_path: Path) -> None:
    app = faust.App("store-test", store="rocksdb://", datadir=str(tmp_path), web_enabled=False)
    table = app.Table("records", key_type=bytes, value_type=bytes, partitions=2)
    write = _store_writer(table.data, CHANGELOG)
    write(1, [(b"first", b"1"), (b"second", b"2")], 41)
    assert table.data.persisted_offset(TP(CHANGELOG, 1)) == 41  # where Faust's restore looks
    assert table.data._db_for_partition(1)[b"second"] == b"2"
    assert table.data.persisted_offset(TP(CHANGELOG, 0)) is None  # one partition only


def test_a_kill_never_leaves_the_offset_ahead_of_the_records(tmp_path: Path) -> None:
    _run(tmp_path, "first")
    assert _run(tmp_path, "read") == "41 b'1' None"
    _run(tmp_path, "second")  # killed right after its write
    # Either the write survived whole (flushed) or not at all; never its offset alone.
    assert _run(tmp_path, "read") in ("41 b'1' None", "42 b'1' b'2'")

"""The fold benchmark runs on a small traffic and reports every stream and step it times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.worker import bench_fold

pytestmark = pytest.mark.unit


def test_it_reports_department_and_join_messages(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_fold.main(["--enterprises", "20", "--properties", "15", "--rounds", "1",
                            "--batch", "3", "--batch", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["messages"]["enterprise"] and report["messages"]["owner_snapshots"]
    assert set(report["batch_50"]) >= {"enterprise_us", "property_us", "all_us", "join_us",
                                       "all_encode_us", "all_table_us", "all_total_us"}
    assert report["batch_50"]["all_total_us"] > report["batch_50"]["all_us"]


def test_the_dump_is_the_same_for_the_same_traffic(tmp_path: Path) -> None:
    args = ["--enterprises", "10", "--properties", "8", "--batch", "4"]
    for name in ("a", "b"):
        assert bench_fold.main([*args, "--dump", str(tmp_path / name)]) == 0
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text()

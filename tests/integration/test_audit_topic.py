"""The audit chains on a real topic: ``exchange show``'s writer appends, ``exchange audit
verify --topic`` finds the chain intact, then names a forged entry; and ``--db`` on a desk
database whose log was edited."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange.audit_cli import audit_command
from exchange.audit_topic import append, last_entry, verify_topic, writer_id
from exchange.settings import load_settings
from exchange.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def test_topic_chain_appends_verifies_and_names_a_forgery(
        kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka import KafkaProducer

    settings = load_settings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path)
    topic = f"test.audit.{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka_client_options(), [TopicSpec(topic)], 4, 1)
    written = [append(settings, "alice", "clerk", "read enterprise", f"enterprise:K{i}",
                      {"found": True}, topic=topic) for i in range(4)]
    assert [e["seq"] for e in written] == [0, 1, 2, 3]
    assert last_entry(settings, writer_id(settings), topic) == written[-1]
    assert verify_topic(settings, topic) == []
    monkeypatch.setenv("EXCHANGE_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("EXCHANGE_DATA_DIR", str(tmp_path))
    ok = CliRunner().invoke(audit_command, ["verify", "--topic", topic])
    assert ok.exit_code == 0 and "chain intact" in ok.output, ok.output

    # A forger appends an edited copy of entry 1 under the same writer key.
    forged = {**written[1], "who": "mallory", "entry_id": str(uuid.uuid4())}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap.split(","), acks="all")
    producer.send(topic, key=writer_id(settings).encode(),
                  value=json.dumps(forged).encode()).get(timeout=30)
    # ... and a well-chained entry after it keeps the writer going (the next append).
    after = append(settings, "alice", "clerk", "read property", "property:U1", {},
                   topic=topic)
    producer.close()
    assert after["prev_hash"] == forged["hash"]  # the writer chains on what it reads
    bad = CliRunner().invoke(audit_command, ["verify", "--topic", topic])
    assert bad.exit_code == 1, bad.output
    first = bad.output.splitlines()[0]
    assert f"audit entry {forged['entry_id']}: hash does not match" in first, bad.output
    assert "(position 4)" in first


def test_db_verify_names_the_edited_desk_entry(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from consumers.desk.store import audit as desk_audit
    from consumers.desk.store.db import make_engine, make_session_factory
    from consumers.desk.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        for i in range(4):
            desk_audit.append(session, datetime(2024, 5, 6, 9, i, tzinfo=UTC), f"u{i}",
                              "clerk", "read_record", "enterprise", f"K{i}", {"found": True})
        session.commit()
    runner = CliRunner()
    assert runner.invoke(audit_command, ["verify", "--db", url]).exit_code == 0
    with engine.begin() as conn:
        conn.execute(text("UPDATE desk_audit_log SET detail = '{}' WHERE id = 3"))
    engine.dispose()
    out = runner.invoke(audit_command, ["verify", "--db", url])
    assert out.exit_code == 1
    assert out.output.startswith("audit entry 3: hash does not match"), out.output

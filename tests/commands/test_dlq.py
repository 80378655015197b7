"""``leadgate dlq list`` and ``leadgate dlq replay`` against the embedded broker."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from leadgate.commands.dlq import ProgressBar
from leadgate.domain.lead import LeadIntent
from leadgate.kafka.broker import free_port
from leadgate.kafka.deadletter import DeadLetterWriter
from leadgate.kafka.producer import make_producer
from leadgate.settings import KafkaSettings, Settings
from leadgate.store.sqlite import open_store
from leadgate.store.suppression import PersonHasher, SuppressionList, load_salt
from tests.plugins.cli import Cli
from tests.plugins.streams import read_records

# Local parts long and not hex: the PII checks look for them in output that holds hex digests
# (a 3-letter local part such as "ada" turns up in one at random).
EMAILS = (
    "ada.lovelace@acme.example",
    "grace.hopper@navy.example",
    "linus.torvalds@kernel.example",
)
REASONS = ("vendor_validation", "vendor_validation", "vendor_conflict")


async def _dead_letter_three(settings: KafkaSettings) -> dict[str, bytes]:
    """Three leads on the delivery topic, dead-lettered with REASONS; returns value per id."""
    producer = make_producer(settings)
    await producer.start()
    try:
        values: dict[str, bytes] = {}
        for i, email in enumerate(EMAILS):
            lead = LeadIntent(
                email=email, attributes={"emails": [email]}, message_ids=(f"m-{i}",), event="Demo"
            )
            values[f"m-{i}"] = lead.to_bytes()
            await producer.send_and_wait(
                settings.delivery_topic, values[f"m-{i}"], key=email.encode()
            )
        records = await read_records(settings.bootstrap_servers, settings.delivery_topic, 3)
        writer = DeadLetterWriter(producer, settings)
        by_id = {orjson.loads(r.value)["message_ids"][0]: r for r in records}
        for i, reason in enumerate(REASONS):
            ack = await writer.send(
                by_id[f"m-{i}"],
                stage="delivery",
                reason=reason,
                status=422,
                attempts=1,
                first_failure=1_700_000_000.0,
            )
            await ack
        return values
    finally:
        await producer.stop()


async def test_list_and_replay_round_trip(kafka_settings: KafkaSettings, cli: Cli) -> None:
    """Dead letters are listed by reason without PII, and replaying them puts the same records
    (same keys, same messageIds) back on their original topic."""
    values = await _dead_letter_three(kafka_settings)

    code, out, _ = await cli("dlq", "list", "--reason", "vendor_validation", "--json")
    assert code == 0
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert sorted(row["message_ids"][0] for row in rows) == ["m-0", "m-1"]
    assert {row["reason"] for row in rows} == {"vendor_validation"}
    assert {row["topic"] for row in rows} == {kafka_settings.delivery_topic}
    assert rows[0]["events"] == ["Demo"]
    assert rows[0]["status"] == "422"
    assert not any(email in out for email in EMAILS)

    code, out, err = await cli("dlq", "list")
    assert code == 0
    assert "3 dead letter(s)" in err
    assert "REASON" in out
    assert "vendor_conflict" in out
    assert "m-2 / Demo" in out
    assert not any(email.split("@")[0] in out + err for email in EMAILS)

    code, _, err = await cli("dlq", "replay", "--reason", "vendor_validation")
    assert code == 0
    assert "replayed 2 of 3" in err
    records: list[Any] = await read_records(
        kafka_settings.bootstrap_servers, kafka_settings.delivery_topic, 5
    )
    ids = []
    for record in records:
        message_id = orjson.loads(record.value)["message_ids"][0]
        assert record.value == values[message_id]
        assert record.key == EMAILS[int(message_id[2:])].encode()
        assert not any(k.startswith("leadgate.error.") for k, _ in record.headers)
        ids.append(message_id)
    assert sorted(ids) == ["m-0", "m-0", "m-1", "m-1", "m-2"]


async def test_replay_leaves_a_forgotten_persons_dead_letters(
    kafka_settings: KafkaSettings, cli: Cli, tmp_path: Path
) -> None:
    """A dead letter about a suppressed address is not replayed (it stays on the dead-letter
    topic); the others are, and the command says how many it left."""
    await _dead_letter_three(kafka_settings)
    settings = Settings(state_dir=tmp_path / "state")
    store = await open_store(settings.state_dir)
    try:
        await SuppressionList(store, PersonHasher(load_salt(settings))).add(
            ["email:grace.hopper@navy.example"]
        )
    finally:
        await store.close()
    code, _, err = await cli("dlq", "replay", "--reason", "vendor_validation")
    assert code == 0
    assert "replayed 1 of 3" in err
    assert "1 of forgotten people were left" in err
    records = await read_records(kafka_settings.bootstrap_servers, kafka_settings.delivery_topic, 4)
    emails = sorted(orjson.loads(r.value)["email"] for r in records)
    assert emails == [EMAILS[0], EMAILS[0], *EMAILS[1:]]


async def test_since_in_the_future_replays_nothing(kafka_settings: KafkaSettings, cli: Cli) -> None:
    """``--since`` after every dead letter replays none of them."""
    await _dead_letter_three(kafka_settings)
    code, _, err = await cli("dlq", "replay", "--since", "2999-01-01T00:00:00Z")
    assert code == 0
    assert "replayed 0 of 3" in err


async def test_a_bad_since_is_a_usage_error(cli: Cli) -> None:
    """A ``--since`` that is not an ISO time is refused before Kafka is touched."""
    with pytest.raises(SystemExit) as exit_info:
        await cli("dlq", "list", "--since", "yesterday")
    assert exit_info.value.code == 2


async def test_unreachable_kafka_is_a_clear_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no broker at the configured address the command says so and exits 1."""
    monkeypatch.setenv("LEADGATE_KAFKA__BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    code, _, err = await cli("dlq", "list")
    assert code == 1
    assert "LEADGATE_KAFKA__BOOTSTRAP_SERVERS" in err


def test_progress_bar_draws_only_for_long_runs() -> None:
    """Short scans print nothing; long ones redraw one terminal line and end it."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    short = Terminal()
    bar = ProgressBar(short, "replaying")
    bar(10, 10)
    bar.finish()
    assert short.getvalue() == ""

    long = Terminal()
    bar = ProgressBar(long, "replaying", interval_s=0)
    for done in range(0, 1001, 250):
        bar(done, 1000)
    bar.finish()
    assert long.getvalue().count("\r") == 5
    assert long.getvalue().endswith("] 1000/1000\n")


async def test_an_undecodable_batch_is_listed_with_its_range_and_not_replayed(
    kafka_settings: KafkaSettings, cli: Cli
) -> None:
    """``dlq list`` shows a dead-lettered batch's offset range and detail; ``dlq replay``
    skips it (raw batch bytes are not an event) and says so."""
    producer = make_producer(kafka_settings)
    await producer.start()
    try:
        await DeadLetterWriter(producer, kafka_settings).send_batch(
            topic="leadgate.events", partition=2, first=40, last=44, raw=b"\x00", detail="corrupt"
        )
    finally:
        await producer.stop()
    code, out, _ = await cli("dlq", "list")
    assert code == 0
    assert "undecodable_batch" in out
    assert "leadgate.events[2]@40-44" in out
    code, out, _ = await cli("dlq", "list", "--json")
    (row,) = [orjson.loads(line) for line in out.splitlines()]
    assert (row["detail"], row["source_offset"], row["source_last_offset"]) == (
        "corrupt",
        "40",
        "44",
    )
    code, _, err = await cli("dlq", "replay")
    assert code == 0
    assert "replayed 0 of 1" in err

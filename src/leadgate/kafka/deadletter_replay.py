"""Replaying dead letters: each matching record goes back to the topic it came from.

Replay re-publishes each value to the topic in its ``leadgate.error.topic`` header with its key
and original headers: the messageIds inside are unchanged, so a replayed lead updates the same
prospect instead of creating a second one. An undecodable batch is not a record and is skipped;
a record about a forgotten person stays where it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from leadgate.kafka.deadletter import UNDECODABLE
from leadgate.kafka.deadletter_reader import DeadLetterReader, matches
from leadgate.settings import KafkaSettings

# How many replayed records may await their acknowledgement at once.
_REPLAY_WINDOW = 500


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay did."""

    scanned: int
    replayed: int
    skipped: int  # matched, but without a source topic to go back to, or an undecodable batch
    suppressed: int = 0  # matched, but about a forgotten person (``leadgate privacy forget``)


Progress = Callable[[int, int], None]


async def replay(
    producer: AIOKafkaProducer,
    settings: KafkaSettings,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    on_progress: Progress | None = None,
    forgotten: Callable[[bytes | None], Awaitable[bool]] | None = None,
) -> ReplayResult:
    """Re-publish the matching dead letters to their original topics (key, value and original
    headers unchanged); returns once every re-published record is acknowledged. A record that
    ``forgotten`` says is about a forgotten person is left where it is."""
    replayed = skipped = suppressed = 0
    pending: list[Awaitable[Any]] = []
    async with DeadLetterReader(settings) as reader:
        async for letter in reader:
            if matches(letter, reason=reason, since=since):
                if not letter.source_topic or letter.reason == UNDECODABLE:
                    skipped += 1  # nowhere to go back to, or raw batch bytes (not a record)
                elif forgotten is not None and await forgotten(letter.value):
                    suppressed += 1
                else:
                    pending.append(
                        await producer.send(
                            letter.source_topic,
                            letter.value,
                            key=letter.key,
                            headers=letter.original_headers(),
                        )
                    )
                    replayed += 1
            if len(pending) >= _REPLAY_WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
            if on_progress is not None:
                on_progress(reader.scanned, reader.total)
        await asyncio.gather(*pending)
        return ReplayResult(
            scanned=reader.scanned, replayed=replayed, skipped=skipped, suppressed=suppressed
        )

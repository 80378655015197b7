"""The mirror's repository: prospects found by any of their addresses, re-keyed when Outreach's
emails change, forgotten when destroyed; what leadgate sent, remembered per email."""

from __future__ import annotations

from leadgate.domain.mirror import OutreachChange
from leadgate.store.memory import MemoryStore
from leadgate.store.mirror import Mirror, SentRecord, get_sent, put_sent

T1 = "2026-11-30T10:00:00.000Z"
T2 = "2026-11-30T10:00:01.000Z"


def _change(action: str, updated_at: str | None, **attributes: object) -> OutreachChange:
    return OutreachChange("prospect", 7, action, dict(attributes), {"owner": 2}, updated_at)


async def test_emails_are_rekeyed_and_destroyed_records_forgotten() -> None:
    """A prospect is found by each address it holds; when Outreach's emails change the old
    address no longer finds it; destroyed, nothing does."""
    mirror = Mirror(MemoryStore(), clock=lambda: 100.0)
    applied = await mirror.apply([_change("created", T1, emails=["Ada@Acme.com", "a@b.io"])])
    assert [a.fields for a in applied] == [{"emails": ["Ada@Acme.com", "a@b.io"], "rel:owner": 2}]
    found = await mirror.prospect_for("ada@acme.com")
    assert found is not None
    assert found["relationships"] == {"owner": 2}
    await mirror.apply([_change("updated", T2, emails=["ada@new.example"])])
    assert await mirror.prospect_for("ada@acme.com") is None
    assert await mirror.prospect_for("a@b.io") is None
    assert (await mirror.prospect_for("ada@new.example") or {}).get("id") == 7
    await mirror.apply([_change("destroyed", None)])
    assert await mirror.get("prospect", 7) is None
    assert await mirror.prospect_for("ada@new.example") is None


async def test_other_resources_are_not_mirrored() -> None:
    """Only prospects and accounts are kept; a sequence change applies nothing."""
    mirror = Mirror(MemoryStore())
    sequence = OutreachChange("sequence", 3, "created", {"name": "Onboarding"})
    assert await mirror.apply([sequence]) == []


async def test_webhooks_make_the_mirror_trusted_for_a_while() -> None:
    """The mirror counts as fresh only while webhooks arrived within the window."""
    now = [1000.0]
    mirror = Mirror(MemoryStore(), clock=lambda: now[0])
    assert not await mirror.trusted(900)
    await mirror.mark_webhook()
    now[0] += 899
    assert await mirror.trusted(900)
    now[0] += 2
    assert not await mirror.trusted(900)


async def test_sent_records_round_trip() -> None:
    """What was sent (values, tags, account) comes back as stored."""
    store = MemoryStore()
    record = SentRecord(7, {"title": "CTO", "rel:owner": 2}, frozenset({"Signal"}), 3)
    await put_sent(store, "ada@acme.com", record)
    assert await get_sent(store, "ada@acme.com") == record
    assert await get_sent(store, "bob@acme.com") is None

"""Folding Outreach changes into the mirror: deliveries and resources normalised, per-field
ordering by updatedAt, destroyed forgets, malformed input named."""

from __future__ import annotations

from typing import Any

import pytest

from leadgate.domain.mirror import (
    MalformedChange,
    OutreachChange,
    fold,
    from_delivery,
    from_resource,
)

T1 = "2026-11-30T10:00:00.000Z"
T2 = "2026-11-30T10:00:01.000Z"
T3 = "2026-11-30T10:00:02.000Z"


def _update(updated_at: str, **attributes: Any) -> OutreachChange:
    return OutreachChange(
        "prospect", 7, "updated", {**attributes, "updatedAt": updated_at}, {}, updated_at
    )


def test_a_delivery_becomes_a_change_with_flat_relationships() -> None:
    """Webhook relationships {"owner": {"type": "owner", "id": 3}} become {"owner": 3}."""
    change = from_delivery(
        {
            "data": {
                "type": "prospect",
                "id": 7,
                "attributes": {"title": "VP", "updatedAt": T1},
                "relationships": {"owner": {"type": "owner", "id": 3}, "stage": {"id": None}},
            },
            "meta": {"eventName": "prospect.updated", "deliveredAt": T1},
        },
        event_id="e-1",
    )
    assert (change.key, change.action, change.updated_at) == ("prospect:7", "updated", T1)
    assert change.relationships == {"owner": 3, "stage": None}
    assert OutreachChange.from_json(change.to_json()) == change


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "not_an_object"),
        ({"data": {}}, "no_data_or_meta"),
        ({"data": {"type": "prospect", "id": "7"}, "meta": {"eventName": "prospect.updated"}},
         "bad_id"),
        ({"data": {"type": "prospect", "id": 7}, "meta": {"eventName": "account.updated"}},
         "bad_eventName"),
        ({"data": {"type": "prospect", "id": 7, "relationships": {"owner": 3}},
          "meta": {"eventName": "prospect.updated"}}, "bad_relationships"),
    ],
)  # fmt: skip
def test_malformed_deliveries_are_named(body: object, reason: str) -> None:
    """Each malformed delivery raises MalformedChange with a reason that holds no values."""
    with pytest.raises(MalformedChange) as caught:
        from_delivery(body)
    assert caught.value.reason == reason


def test_a_resource_becomes_a_snapshot() -> None:
    """A REST resource (poll, export, own write) keeps to-one links and drops links-only ones."""
    change = from_resource(
        {
            "type": "prospect",
            "id": 7,
            "attributes": {"tags": ["a"], "updatedAt": T1},
            "relationships": {
                "owner": {"data": {"type": "user", "id": 3}},
                "stage": {"data": None},
                "mailings": {"links": {"related": "x"}},
            },
        },
        "poll",
    )
    assert change.action == "snapshot"
    assert change.source == "poll"
    assert change.relationships == {"owner": 3, "stage": None}


def test_an_older_change_never_overwrites_a_newer_value() -> None:
    """Arriving late, a change loses on the fields a newer change set and wins on the others."""
    doc, _ = fold(None, _update(T2, title="VP", tags=["hot"]), now=1.0)
    doc, applied = fold(doc, _update(T1, title="CTO", city="Paris"), now=2.0)
    assert doc is not None
    assert doc["attributes"] == {"title": "VP", "tags": ["hot"], "city": "Paris"}
    assert applied == {"city": "Paris"}
    assert doc["updatedAt"] == T2


def test_an_echo_changes_nothing_and_keeps_the_source() -> None:
    """The webhook echo of leadgate's own write (same values) leaves source = own_write."""
    own = OutreachChange("prospect", 7, "snapshot", {"title": "VP", "updatedAt": T1}, {}, T1,
                         "own_write")  # fmt: skip
    doc, _ = fold(None, own, now=1.0)
    echo, applied = fold(doc, _update(T1, title="VP"), now=2.0)
    assert applied == {}
    assert echo is not None
    assert echo["source"] == "own_write"
    newer, applied = fold(echo, _update(T3, title="CEO"), now=3.0)
    assert applied == {"title": "CEO"}
    assert newer is not None
    assert newer["source"] == "webhook"


def test_destroyed_forgets_the_record() -> None:
    """A destroyed change removes the record; destroying an unknown record changes nothing."""
    doc, _ = fold(None, _update(T1, title="VP"), now=1.0)
    gone = OutreachChange("prospect", 7, "destroyed", {"title": "VP"})
    assert fold(doc, gone, now=2.0) == (None, {"destroyed": True})
    assert fold(None, gone, now=2.0) == (None, {})

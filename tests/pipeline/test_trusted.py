"""trusted(): models the pipeline builds without re-validation equal their validated twins."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import BaseModel

from leadgate.domain.lead import AccountHint, LeadIntent, Withdrawal
from leadgate.pipeline.trusted import trusted

LEAD: dict[str, object] = {
    "schema_version": 2,
    "kind": "upsert_prospect",
    "email": "jane@acme.com",
    "attributes": {"emails": ["jane@acme.com"], "firstName": "Jane"},
    "tags": ("Signal",),
    "account": trusted(AccountHint, {"domain": "acme.com", "name": None}),
    "consent": {"marketing": True},
    "required_consent": ("marketing",),
    "identities": ("user:u1",),
    "message_ids": ("m1",),
    "event": "Signed Up",
    "preset": "Lead Capture",
    "received_at": None,
    "routing": None,
    "withdrawal": None,
    "source": None,
    "on_existing": None,
    "opportunity": None,
}


def test_trusted_lead_round_trips_through_kafka_bytes() -> None:
    """A lead intent built with trusted() serialises to the same bytes as a validated one."""
    values = dict(LEAD)
    built = trusted(LeadIntent, dict(values))
    validated = LeadIntent.model_validate(values)
    assert built == validated
    assert built.to_bytes() == validated.to_bytes()
    assert LeadIntent.from_bytes(built.to_bytes()) == validated


# The pydantic range whose model internals trusted() was checked against (pyproject pins it).
TESTED = ((2, 7), (2, 14))


def test_pydantic_is_in_the_range_trusted_was_checked_against() -> None:
    """trusted() writes pydantic's instance slots itself: the installed pydantic must be one
    whose slots these tests checked (raise the pin in pyproject only after they pass)."""
    version = tuple(int(part) for part in pydantic.VERSION.split(".")[:2])
    assert TESTED[0] <= version <= TESTED[1], pydantic.VERSION
    assert BaseModel.__slots__ == (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    )


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (AccountHint, {"domain": "acme.com", "name": "Acme"}),
        (LeadIntent, LEAD),
    ],
    ids=["AccountHint", "LeadIntent"],
)
def test_trusted_sets_every_slot_as_model_construct_does(
    model: type[BaseModel], values: dict[str, object]
) -> None:
    """For the models the pipeline builds, trusted() leaves each instance slot exactly as
    pydantic's own model_construct() does."""
    built = trusted(model, dict(values))
    constructed = model.model_construct(**values)  # type: ignore[arg-type]
    for slot in BaseModel.__slots__:
        assert getattr(built, slot) == getattr(constructed, slot), slot


def test_frozen_models_share_one_fields_set_that_nothing_changes() -> None:
    """Frozen models built by trusted() share their class's set of field names (it equals
    model_construct's), and model_copy(update=...) copies it before adding to it, so one
    instance's copy never changes what another reports."""
    first = trusted(Withdrawal, {"categories": ("marketing",), "action": "both"})
    second = trusted(Withdrawal, {"categories": ("analytics",), "action": "opt_out"})
    constructed = Withdrawal.model_construct(categories=("marketing",), action="both")
    assert first.model_fields_set == constructed.model_fields_set
    assert first.model_fields_set is second.model_fields_set
    copied = first.model_copy(update={"action": "finish_sequences"})
    assert copied.model_fields_set is not first.model_fields_set
    assert second.model_fields_set == {"categories", "action"}
    with pytest.raises(pydantic.ValidationError):
        first.action = "opt_out"  # type: ignore[misc]  # frozen: the shared set cannot grow so
    assert second.model_fields_set == {"categories", "action"}


class _Open(BaseModel):
    """A model that is not frozen: its fields set may change in place, so it is never shared."""

    name: str
    size: int = 0


def test_models_that_are_not_frozen_get_their_own_fields_set() -> None:
    """trusted() gives every instance of a mutable model its own set, as model_construct does."""
    first = trusted(_Open, {"name": "a", "size": 1})
    second = trusted(_Open, {"name": "b", "size": 2})
    assert first.model_fields_set is not second.model_fields_set
    first.size = 3
    assert second.model_fields_set == {"name", "size"}

"""What Outreach checks on opportunities and opportunityProspectRoles beyond the attribute
lists (Outreach's OpenAPI, summarised in docs/outreach-api.md), and what goes with an opportunity
or a prospect when it is deleted.

Outreach documents no required fields for an opportunity; the sandbox requires the ones in
``SandboxConfig.opportunity_required`` (``name`` and ``closeDate`` by default) with a Rails-style
"<Field> can't be blank", the form Outreach's other 422s take. A role must name both its
opportunity and its prospect. Outreach does not dedupe opportunities or roles: neither does the
sandbox, so a client that posts twice gets two (the tests count them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadgate.sandbox.errors import ApiError, error_response, validation_error
from leadgate.sandbox.schema import OPPORTUNITY, OPPORTUNITY_PROSPECT_ROLE, ResourceSchema

MAX_TEXT = 255
_WORD = re.compile(r"(?<!^)(?=[A-Z])")

# Deleting the key's record deletes every record of (plural, relationship) that points at it.
CASCADES: dict[str, tuple[tuple[str, str], ...]] = {
    OPPORTUNITY.plural: ((OPPORTUNITY_PROSPECT_ROLE.plural, "opportunity"),),
    # A deleted prospect's sequenceStates go with it (they exist only through it).
    "prospects": ((OPPORTUNITY_PROSPECT_ROLE.plural, "prospect"), ("sequenceStates", "prospect")),
}


def _label(name: str) -> str:
    """``closeDate`` → ``Close date``, as Rails names an attribute in a message."""
    return _WORD.sub(" ", name).lower().capitalize()


def _too_long(name: str) -> ApiError:
    return ApiError(
        error_response(
            422,
            "validationDataTooLongError",
            "Validation Data Too Long Error",
            "Data provided is too long.",
            pointer=f"/data/attributes/{name}",
        )
    )


def _blank(name: str, where: str = "attributes") -> ApiError:
    return ApiError(validation_error(f"{_label(name)} can't be blank.", f"/data/{where}/{name}"))


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_opportunity(
    attributes: Mapping[str, Any], written: Mapping[str, Any], required: tuple[str, ...]
) -> None:
    for name in required:
        value = attributes.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise _blank(name)
    for name, value in written.items():
        if value is None:
            continue
        pointer = f"/data/attributes/{name}"
        if name in ("amount", "probability") and (type(value) is not int):
            raise ApiError(validation_error(f"{_label(name)} must be an integer.", pointer))
        if name == "probability" and not 0 <= value <= 100:
            raise ApiError(validation_error("Probability must be between 0 and 100.", pointer))
        if name in ("closeDate", "externalCreatedAt", "externalUpdatedAt", "trashedAt") and (
            not _is_datetime(value)
        ):
            raise ApiError(validation_error(f"{_label(name)} is not a valid date-time.", pointer))
        if name == "amountPrecise" and (not isinstance(value, str) or len(value) > 15):
            raise (
                _too_long(name)
                if isinstance(value, str)
                else ApiError(validation_error("Amount precise must be text.", pointer))
            )
        if isinstance(value, str) and len(value) > MAX_TEXT and name in ("name", "customId"):
            raise _too_long(name)


def _check_role(attributes: Mapping[str, Any], links: Mapping[str, object]) -> None:
    for name in ("opportunity", "prospect"):
        if links.get(name) is None:
            raise ApiError(
                validation_error(f"{_label(name)} must exist.", f"/data/relationships/{name}")
            )
    role = attributes.get("role")
    if role is not None and not isinstance(role, str):
        raise ApiError(validation_error("Role must be text.", "/data/attributes/role"))
    if isinstance(role, str) and len(role) > MAX_TEXT:
        raise _too_long("role")
    primary = attributes.get("primary")
    if primary is not None and not isinstance(primary, bool):
        raise ApiError(
            validation_error("Primary must be true or false.", "/data/attributes/primary")
        )


def check(
    schema: ResourceSchema,
    attributes: Mapping[str, Any],
    links: Mapping[str, object],
    written: Mapping[str, Any],
    required: tuple[str, ...],
) -> None:
    """Raise the 422 Outreach would give for the record as it would be after a write.

    ``attributes``/``links`` are the record's state after the write, ``written`` the attributes
    the write carries; other resource types pass.
    """
    if schema is OPPORTUNITY:
        _check_opportunity(attributes, written, required)
    elif schema is OPPORTUNITY_PROSPECT_ROLE:
        _check_role(attributes, links)

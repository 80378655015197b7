"""The finish action on sequenceStates: an enrolment ends (state finished, stateChangedAt set),
repeating it changes nothing, and a compliance request's erasure takes the prospect's states
with it."""

from __future__ import annotations

from tests.plugins.sandbox import SandboxHandle
from tests.sandbox.api import Api, authed, enrol, file_delete_request


async def _enrolled(api: Api) -> tuple[int, int]:
    prospect = await api.create("prospects", {"emails": ["jane@acme.com"]})
    prospect_id: int = prospect.json["data"]["id"]
    state = await enrol(api, prospect_id)
    assert state.status == 201, state.text
    state_id: int = state.json["data"]["id"]
    return prospect_id, state_id


async def test_finish_ends_an_active_state_and_is_safe_to_repeat(sandbox: SandboxHandle) -> None:
    """POST .../actions/finish answers 200 with state finished; a second finish answers the same
    and keeps the first stateChangedAt."""
    api = await authed(sandbox)
    _, state_id = await _enrolled(api)
    path = f"/api/v2/sequenceStates/{state_id}/actions/finish"
    await sandbox.advance_clock(3)
    first = await api.call("POST", path, content_type=None)
    assert first.status == 200, first.text
    attributes = first.json["data"]["attributes"]
    assert attributes["state"] == "finished"
    await sandbox.advance_clock(3)
    again = await api.call("POST", path, content_type=None)
    assert again.status == 200
    assert again.json["data"]["attributes"]["stateChangedAt"] == attributes["stateChangedAt"]
    fetched = await api.get(f"/api/v2/sequenceStates/{state_id}")
    assert fetched.json["data"]["attributes"]["state"] == "finished"


async def test_finish_of_an_unknown_state_is_a_404(sandbox: SandboxHandle) -> None:
    """Finishing a sequenceState id that does not exist is 404 resourceNotFound."""
    api = await authed(sandbox)
    reply = await api.call("POST", "/api/v2/sequenceStates/999/actions/finish", content_type=None)
    assert reply.status == 404
    assert reply.error_id == "resourceNotFound"


async def test_erasing_a_prospect_removes_its_sequence_states(sandbox: SandboxHandle) -> None:
    """A done compliance request deletes the prospect and its sequenceStates."""
    api = await authed(sandbox)
    prospect_id, state_id = await _enrolled(api)
    assert (await file_delete_request(api, prospect_id)).status == 201
    await sandbox.advance_clock(2 * sandbox.config.compliance_step_s)
    assert (await api.get(f"/api/v2/sequenceStates/{state_id}")).status == 404
    assert (await api.get(f"/api/v2/prospects/{prospect_id}")).status == 404

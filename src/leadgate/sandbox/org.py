"""The default org every sandbox starts with (and gets back on ``/__sandbox/reset``).

Besides the token's own user (id 1, ``owner``): reps alice and bob, a mailbox for each of the
three users, the sequences "Inbound Demo Request" and "Newsletter Nurture" (enabled) and "Old
Campaign" (disabled), and the prospect stages "Cold Lead", "Inbound" and "Qualified". Ids are
stable: alice is user 2, bob user 3; mailbox n belongs to user n; sequences 1-3 and stages 1-3 in
the order above. ``presets/outreach-demo-routing.yaml`` routes leads into this org.
"""

from __future__ import annotations

from typing import Any

from leadgate.sandbox.documents import Write
from leadgate.sandbox.schema import MAILBOX, SEQUENCE, STAGE, USER
from leadgate.sandbox.store import Store

REPS: tuple[dict[str, Any], ...] = (
    {
        "firstName": "Alice",
        "lastName": "Rep",
        "email": "alice@sandbox.invalid",
        "username": "alice",
    },
    {"firstName": "Bob", "lastName": "Rep", "email": "bob@sandbox.invalid", "username": "bob"},
)
SEQUENCES: tuple[dict[str, Any], ...] = (
    {"name": "Inbound Demo Request", "enabled": True, "sequenceType": "interval"},
    {"name": "Newsletter Nurture", "enabled": True, "sequenceType": "interval"},
    {"name": "Old Campaign", "enabled": False, "sequenceType": "interval"},
)
STAGES: tuple[str, ...] = ("Cold Lead", "Inbound", "Qualified")


def seed_default_org(store: Store) -> None:
    """Add alice, bob, a mailbox per user, the sequences and the stages to a freshly reset store."""
    for rep in REPS:
        store.create(USER, Write(dict(rep), {}))
    for user in store.all(USER.plural):
        email = user.attributes.get("email")
        store.create(
            MAILBOX,
            Write({"email": email, "userId": user.id}, {"user": (USER.plural, user.id)}),
        )
    owner = (USER.plural, 1)
    for sequence in SEQUENCES:
        store.create(SEQUENCE, Write(dict(sequence), {"owner": owner}))
    for order, name in enumerate(STAGES, start=1):
        store.create(STAGE, Write({"name": name, "order": order}, {}))

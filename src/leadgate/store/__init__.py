"""IO edge: the state store (profiles, seen messageIds, Outreach ids, OAuth tokens)."""

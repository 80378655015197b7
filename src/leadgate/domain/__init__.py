"""Pure data: Segment events, profiles, lead intents, outcomes and traces. No IO."""

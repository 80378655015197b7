"""Pure, synchronous stages that decide what happens to an event. No IO, no clock, no env."""

"""IO edge: the embedded broker, producers, consumer loops, offsets and dead letters."""

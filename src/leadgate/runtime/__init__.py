"""The composition root: every command builds its store, clients, producer and workers here."""

"""The composition root: every command builds its store, clients, producer and workers here.

- :mod:`~leadgate.runtime.services`: opening the state store, the producer, the presets, the
  trace store, the Outreach client (one function each).
- :mod:`~leadgate.runtime.roles`: worker roles and the role → worker factory table.
- :mod:`~leadgate.runtime.http`: serving the HTTP service with the inspector's feeds wired in.
- :mod:`~leadgate.runtime.process`: one process (workers and/or HTTP), its readiness, its exit.
- :mod:`~leadgate.runtime.signals`: SIGTERM/SIGINT → the stop event, once for every command.
"""

"""One module per ``leadgate`` sub-command; each exposes ``register(subparsers)`` and sets
``handler`` (a function of the parsed args returning an exit code) on its parser."""

"""The terminal layer: the `triage` command. ``main`` builds the command line from one module per
command group (assess, batch, catalogues, intake, records), each with ``register(commands)`` and
handlers ``(args, io) -> int``; ``common`` holds what they share (exit codes, streams, options).
Command modules import ``common`` and the core, never each other; the web layer never imports this
package, nor this package the web layer."""

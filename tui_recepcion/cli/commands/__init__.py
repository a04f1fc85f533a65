"""Command-line subcommands, one module each; `tui_recepcion.cli` wires them."""

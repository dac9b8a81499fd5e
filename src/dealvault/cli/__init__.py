"""The command-line edge: Typer app, one module per command group, no business logic."""

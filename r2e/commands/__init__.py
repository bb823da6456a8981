"""Click commands, one module per stage; registered by name in r2e.cli.COMMANDS."""

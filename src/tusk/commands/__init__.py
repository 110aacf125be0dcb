"""CLI subcommands: each module parses arguments and calls one library function."""

"""``tusk ls``: list benchmarks, built-in models, backends or data sources."""

from __future__ import annotations

import argparse

HELP = "list benchmarks, models, backends or sources"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=("benchmarks", "models", "backends", "sources"))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    if args.what == "benchmarks":
        from tusk.benchmarks import BENCHMARKS

        table.add_column("name", no_wrap=True)
        for column in ("domain", "problems", "answers", "description"):
            table.add_column(column)
        for b in BENCHMARKS.values():
            table.add_row(b.name, b.domain, str(b.expected_count), b.answer_type, b.description)
    elif args.what == "models":
        from tusk.models import BUILTIN_MODELS, DEFAULT_MODEL

        table.add_column("name", no_wrap=True)
        for column in ("prompt", "size", "packages", "description"):
            table.add_column(column)
        for m in BUILTIN_MODELS.values():
            name = m.name + (" (default)" if m.name == DEFAULT_MODEL else "")
            packages = m.packages[0] if len(m.packages) == 1 else f"{m.packages[0]} ... {m.packages[-1]}"
            table.add_row(name, m.prompt_style, f"{m.size / 1e6:.0f} MB", packages, m.description)
    elif args.what == "backends":
        from tusk.backends import BACKENDS

        table.add_column("backend")
        table.add_column("extra")
        table.add_column("spec")
        for name, (_, extra) in BACKENDS.items():
            if name != "scripted":
                table.add_row(name, f"tusk[{extra}]", f"{name}:TARGET")
    else:
        from tusk.data.sources import SOURCES

        table.add_column("source")
        table.add_column("description")
        for name, source in SOURCES.items():
            table.add_row(name, getattr(source, "description", ""))
    Console().print(table)
    return 0

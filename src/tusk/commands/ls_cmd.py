"""``tusk ls``: list benchmarks, built-in models, backends or data sources."""

from __future__ import annotations

import argparse

HELP = "list benchmarks, models, backends or sources"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=("benchmarks", "models", "backends", "sources"))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()

    def add_row(*cells: str) -> None:
        table.add_row(*(escape(cell) for cell in cells))  # "tusk[hf]" is text, not rich markup
    if args.what == "benchmarks":
        from tusk.benchmarks import BENCHMARKS

        table.add_column("name", no_wrap=True)
        for column in ("domain", "problems", "answers", "description"):
            table.add_column(column)
        for b in BENCHMARKS.values():
            add_row(b.name, b.domain, str(b.expected_count), b.answer_type, b.description)
    elif args.what == "models":
        from tusk.models import BUILTIN_MODELS, DEFAULT_MODEL

        table.add_column("name", no_wrap=True)
        for column in ("prompt", "size", "packages", "description"):
            table.add_column(column)
        for m in BUILTIN_MODELS.values():
            name = m.name + (" (default)" if m.name == DEFAULT_MODEL else "")
            packages = m.packages[0] if len(m.packages) == 1 else f"{m.packages[0]} ... {m.packages[-1]}"
            add_row(name, m.prompt_style, f"{m.size / 1e6:.0f} MB", packages, m.description)
    elif args.what == "backends":
        from tusk.backends import BACKENDS

        for column in ("backend", "spec", "extra", "status"):
            table.add_column(column, no_wrap=column != "status")
        for name, info in BACKENDS.items():
            if name != "scripted":
                missing = info.missing()
                status = f"needs {', '.join(missing)}" if missing else "ready"
                add_row(name, info.spec, f"tusk[{info.extra}]", status)
    else:
        from tusk.data.sources import SOURCES

        table.add_column("source")
        table.add_column("description")
        for name, source in SOURCES.items():
            add_row(name, getattr(source, "description", ""))
    Console().print(table)
    return 0

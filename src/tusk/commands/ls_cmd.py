"""``tusk ls``: list benchmarks, built-in models, backends or data sources (with their files and URLs)."""

from __future__ import annotations

import argparse

HELP = "list benchmarks, models, backends or sources"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=("benchmarks", "models", "backends", "sources"))


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from tusk.commands import result_console

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
        print(sources_text())
        return 0
    result_console().print(table)
    return 0


def sources_text(width: int = 80) -> str:
    """Each data source as a block: name and description, then its rationale modes and default files, then
    the URL to download it from (on a line of its own, never broken, so it can be copied)."""
    import textwrap

    from tusk.data.sources import SOURCES

    indent = " " * (max(len(name) for name in SOURCES) + 2)
    blocks = []
    for name, source in SOURCES.items():
        modes = ", ".join(source.modes) or "none (synthesise them)"
        files = ", ".join(source.files) or "none (list yours under files:)"
        lines = textwrap.wrap(source.description, width, initial_indent=name.ljust(len(indent)),
                              subsequent_indent=indent)
        lines += textwrap.wrap(f"rationales: {modes}; licence: {source.licence}", width, initial_indent=indent,
                               subsequent_indent=indent + "  ")
        lines += textwrap.wrap(f"files: {files}", width, initial_indent=indent, subsequent_indent=indent + "  ",
                               break_long_words=False, break_on_hyphens=False)
        if source.url:
            lines.append(f"{indent}url: {source.url}" if len(indent) + 5 + len(source.url) <= width
                         else f"  url: {source.url}")
        blocks.append("\n".join(lines))
    note = "files are read from --data-dir or TUSK_DATA_DIR (download them from the url)"
    return "\n\n".join(blocks + [note])

"""``tusk train``: supervised fine-tuning (full or LoRA) from a YAML config plus command-line overrides.

Every config field is also a flag (``--learning-rate 1e-4``) and can be set with ``--set key=value``; the
help of each flag is the field's documentation in :class:`tusk.train.config.TrainConfig`.  Run it directly
for one process, or under ``accelerate launch`` / ``torchrun`` for DDP, FSDP or DeepSpeed.
"""

from __future__ import annotations

import argparse
import dataclasses

HELP = "fine-tune a model on Alpaca-format data (full or LoRA; 1 process or accelerate launch)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from tusk.train.config import TrainConfig, field_docs

    p.add_argument("--config", metavar="FILE", help="YAML training config (see configs/train/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (the training bar, and transformers' and datasets' bars)")
    group = p.add_argument_group("config fields (override the file)")
    docs = field_docs()
    for f in dataclasses.fields(TrainConfig):
        default = f.default
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(default, bool):  # --packing alone means true; --packing false turns it off
            group.add_argument(flag, dest=f"field_{f.name}", metavar="BOOL", nargs="?", const="true",
                               help=f"{docs.get(f.name, '')} (true/false; the flag alone: true; default: "
                                    f"{str(default).lower()})")
        else:
            group.add_argument(flag, dest=f"field_{f.name}", metavar="VALUE",
                               help=f"{docs.get(f.name, '')} (default: {default!r})")


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    from tusk.train.config import parse_overrides

    values = parse_overrides(args.set)
    for key, value in vars(args).items():
        if key.startswith("field_") and value is not None:
            values[key.removeprefix("field_")] = value
    return values


def run(args: argparse.Namespace) -> int:
    from tusk.commands import result_console
    from tusk.train.config import load_config, require_inputs

    config = load_config(args.config, _overrides(args))
    console = result_console()
    if args.print_config:
        import yaml

        console.print(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False), end="")
        return 0
    require_inputs(config)
    from tusk.train.eval_hook import make_eval_hook
    from tusk.train.loop import ExportFailed, train

    try:
        result = train(config, eval_hook=make_eval_hook(config), progress=not args.no_progress)
    except ExportFailed as exc:  # the summary of the training that did finish, then the error
        _summary(console, config, exc.result)
        raise
    _summary(console, config, result)
    return 0


def _summary(console, config, result) -> None:
    import os

    from rich.table import Table

    if int(os.environ.get("RANK", "0")) != 0:
        return
    table = Table(title=f"tusk train: {config.model} ({config.method})")
    table.add_column("what")
    table.add_column("value", justify="right")
    enc = result.encoding
    rows = [
        ("optimizer steps", f"{result.steps}" + (f" (resumed at {result.resumed_from})" if result.resumed_from else "")),
        ("examples kept / total", f"{enc['kept']} / {enc['examples']}"),
        ("truncated / dropped", f"{enc['truncated']} / {enc['dropped']}"),
        ("target tokens per epoch", f"{enc['target_tokens']:,}"),
        ("trainable / all parameters", f"{result.trainable_parameters:,} / {result.parameters:,}"),
        ("first loss", "-" if result.first_loss is None else f"{result.first_loss:.4f}"),
        ("last loss", "-" if result.last_loss is None else f"{result.last_loss:.4f}"),
        ("seconds", f"{result.seconds:.1f}"),
        ("run directory", str(result.out)),
        ("exported model", str(result.export) if result.export else "-"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)

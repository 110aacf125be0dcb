"""Instruction tuning: data -> tokenise + mask -> SFT loop (accelerate: DDP / FSDP / DeepSpeed) -> checkpoints
-> export, with an optional evaluation hook.

Entry points: :func:`tusk.train.loop.train` (library) and ``tusk train --config FILE`` (CLI).  Importing this
package imports nothing heavy.
"""

"""Training throughput: tusk's trainer against the original recipe's setup, side by side in one run.

Data: the real GSM8K + MATH training sets rendered as tusk trains on them (Alpaca prompt + solution + EOS),
tokenised with a byte-level BPE trained on the fly on the same texts (asked for ``--vocab`` tokens, it runs out
of merges earlier on few examples: 5,400 at 300, 9,690 at 1,000, 29,490 at 8,000), so example lengths and
prompt/response splits follow the real distribution.  Model: a Llama-shaped network with random weights
(``--size 1b``: TinyLlama's 1.1B shape; ``--size tiny`` for a CPU smoke run) whose embedding and output head
have ``--vocab`` rows (default 32,000, Llama-2's size) whatever the BPE reached: the ids above the
tokenizer's are never seen, but every step pays for the full 32k-row softmax, as a real Llama-2 model would.
The JSON records both sizes (``tokenizer_vocab``, ``model_vocab``).

Contenders (same model, data, precision, gradient checkpointing, optimizer):
- ``hf-trainer-padN``: the original recipe's setup: transformers Trainer, whole examples right-padded to the
  longest of each micro-batch of N, no packing.
- ``tusk-packed``: :func:`tusk.train.loop.train`: each micro-batch's examples packed into rows of up to
  ``--max-length`` tokens (position ids restart per example, attention kept within examples), loss on trained
  positions only, fused AdamW on a GPU.  ``--tusk-variants`` adds ``tusk-packed-no-ckpt`` (no gradient
  checkpointing: faster where memory allows, as it does for 1B on one GPU) and ``tusk-packed-no-ckpt-compiled``
  (also ``compile: true``).

Reported: real tokens/s (tokens that are not padding, prompt included), trained (target) tokens/s and MFU, the
same formula for every contender (the useful work, whatever a contender computes on padding):

    FLOPs/step = 6 x (parameters without the input embedding and the output head) x real tokens
               + 6 x (output head parameters) x target tokens
    MFU = FLOPs/step / step seconds / peak

No attention term (the score and value products, about 12 x layers x hidden x context per token), so it
understates the work done, more so for long examples.  Peak: bf16 dense from the device name (H100 SXM and
H200 989 TFLOP/s, H100 PCIe 756, A100 312); another device, or a precision other than bf16, gets no MFU unless
``--peak-tflops`` gives one.  The JSON records the formula, the peak and the device name.  The first
``--warmup`` steps of every contender are excluded.  The JSON is rewritten after every contender, so a run
stopped by a time limit keeps what finished.

    python benchmarks/training.py --data-dir ../shared/data --size 1b --steps 20         # on a GPU
    python benchmarks/training.py --data-dir ../shared/data --size tiny --steps 4 --device-note "2-core VM"
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_common import existing_dir, non_negative_int, positive_float, positive_int, run_main
from llama_shapes import LLAMA_SHAPES  # benchmarks/ is on sys.path when a benchmark runs as a script

# bf16 dense peak TFLOP/s by device name: (substrings that must all appear, peak); first match wins
PEAKS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("H200",), 989.0),
    (("H100", "PCIE"), 756.0),
    (("H100", "NVL"), 0.0),  # not in the table: no MFU unless --peak-tflops
    (("H100",), 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    (("A100",), 312.0),
)
MFU_FORMULA = ("6 x (parameters - input embedding - output head) x real tokens/s + 6 x output head parameters "
               "x target tokens/s, over peak; no attention term (understates)")
DATA_FILES = ("gsm8k/train.jsonl", "math/hendrycks_train.jsonl")


def peak_tflops(device_name: str | None) -> float | None:
    """bf16 dense peak of a known device, else None."""
    if not device_name:
        return None
    name = device_name.upper()
    for needles, peak in PEAKS:
        if all(n in name for n in needles):
            return peak or None
    return None


def read_texts(data_dir: Path, limit: int) -> list[tuple[str, str]]:
    """(instruction, output) pairs from GSM8K train and MATH train, interleaved."""
    gsm, math = [], []
    with open(data_dir / "gsm8k" / "train.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            gsm.append((row["question"], row["answer"]))
    with open(data_dir / "math" / "hendrycks_train.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            math.append((row["problem"], row["solution"]))
    mixed = [pair for pairs in zip(gsm, math) for pair in pairs]
    return mixed[:limit] if limit else mixed


def build_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["</s>", "<s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", bos_token="<s>", pad_token="</s>")


def build_model_dir(path: Path, size: str, tokenizer, max_length: int, vocab: int) -> dict[str, int]:
    """Save a random Llama of this shape with ``max(vocab, len(tokenizer))`` embedding rows; its parameter counts."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(vocab_size=max(vocab, len(tokenizer)), max_position_embeddings=max(2048, max_length),
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **LLAMA_SHAPES[size])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    total = sum(p.numel() for p in model.parameters())  # a tied head is one parameter, counted once
    body = total - embed.numel() - (0 if head is embed else head.numel())
    return {"parameters": total, "body": body, "head": head.numel(), "model_vocab": config.vocab_size}


# tusk's trainer in several settings: the contenders' common settings ("same"), then without gradient
# checkpointing (memory permitting), then also with compiled decoder layers
TUSK_VARIANTS = {
    "same": ("tusk-packed", {}),
    "no-ckpt": ("tusk-packed-no-ckpt", {"gradient_checkpointing": False}),
    "compile": ("tusk-packed-no-ckpt-compiled", {"gradient_checkpointing": False, "compile": True}),
}


def run_tusk(model_dir: Path, data, args, out: Path, variant: str = "same") -> dict:
    from tusk.train.config import TrainConfig
    from tusk.train.loop import train
    from tusk.train.runlog import read_log

    name, changes = TUSK_VARIANTS[variant]
    settings = {"gradient_checkpointing": not args.no_checkpointing, **changes}
    config = TrainConfig(model=str(model_dir), out=str(out), method="full", max_steps=args.steps + args.warmup,
                         batch_size=args.tusk_batch, grad_accum=args.tusk_accum, max_length=args.max_length,
                         packing=True, precision=args.precision, attn_implementation=args.attn,
                         save_steps=-1, export="none", learning_rate=2e-5, warmup_ratio=0.03, **settings)
    train(config, progress=False, encoded=data)
    steps = [r for r in read_log(out / "log.jsonl") if "loss" in r and "event" not in r][args.warmup:]
    seconds = sum(r["seconds"] for r in steps)
    return {"name": name, "steps": len(steps), "seconds": seconds, **settings,
            "examples_per_step": args.tusk_batch,
            "real_tokens_per_s": sum(r["tokens"] for r in steps) / seconds,
            "target_tokens_per_s": sum(r["target_tokens"] for r in steps) / seconds,
            "final_loss": steps[-1]["loss"]}


def run_hf_trainer(model_dir: Path, data, args, batch: int, out: Path, pad: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments

    from tusk.train.masking import labels_for

    rows = [{"input_ids": ids.tolist(), "labels": labels_for(ids, int(n)).tolist()}
            for ids, n in zip(data.ids, data.n_masked)]
    counts: list[tuple[int, int]] = []

    def collate(batch_rows):
        width = max(len(r["input_ids"]) for r in batch_rows)
        ids = torch.full((len(batch_rows), width), pad, dtype=torch.long)
        labels = torch.full((len(batch_rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch_rows), width), dtype=torch.long)
        for i, r in enumerate(batch_rows):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
        counts.append((int(mask.sum()), int((labels[:, 1:] != -100).sum())))
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter())

        def on_step_end(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[-1] = time.perf_counter() - times[-1]

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=args.attn)
    bf16 = args.precision in ("bf16", "auto") and torch.cuda.is_available()
    training_args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=batch, gradient_accumulation_steps=1,
        max_steps=args.steps + args.warmup, learning_rate=2e-5, lr_scheduler_type="cosine", warmup_steps=0.03,
        weight_decay=0.0, bf16=bf16, gradient_checkpointing=not args.no_checkpointing, report_to=[],
        save_strategy="no", logging_strategy="no", dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False, disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=rows, data_collator=collate,
                      callbacks=[Clock()])
    trainer.train()
    timed = times[args.warmup:]
    real = [c[0] for c in counts[args.warmup: args.warmup + len(timed)]]
    target = [c[1] for c in counts[args.warmup: args.warmup + len(timed)]]
    seconds = sum(timed)
    del trainer, model
    return {"name": f"hf-trainer-pad{batch}", "steps": len(timed), "seconds": seconds, "examples_per_step": batch,
            "real_tokens_per_s": sum(real) / seconds, "target_tokens_per_s": sum(target) / seconds}


def _batches(text: str) -> list[int]:
    try:
        sizes = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated whole numbers: {text!r}") from None
    if any(b < 1 for b in sizes):
        raise argparse.ArgumentTypeError(f"batch sizes must be at least 1: {text!r}")
    return sizes


def _variants(text: str) -> list[str]:
    names = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [v for v in names if v not in TUSK_VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown[0]!r} (choose from {', '.join(TUSK_VARIANTS)})")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=existing_dir, default=os.environ.get("TUSK_DATA_DIR", "../shared/data"))
    parser.add_argument("--size", choices=sorted(LLAMA_SHAPES), default="1b")
    parser.add_argument("--steps", type=positive_int, default=20, help="timed optimizer steps per contender")
    parser.add_argument("--warmup", type=non_negative_int, default=3, help="untimed steps first")
    parser.add_argument("--examples", type=non_negative_int, default=8000,
                        help="examples read (GSM8K+MATH interleaved; 0: all)")
    parser.add_argument("--max-length", type=positive_int, default=2048)
    parser.add_argument("--vocab", type=positive_int, default=32000, help="model vocabulary (embedding rows)")
    parser.add_argument("--baseline-batches", type=_batches, default="16,64", help="HF Trainer micro-batch sizes")
    parser.add_argument("--tusk-batch", type=positive_int, default=128, help="tusk examples per step")
    parser.add_argument("--tusk-accum", type=positive_int, default=2, help="tusk micro-batches per step")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--attn", default="sdpa", help="attention implementation for both contenders")
    parser.add_argument("--no-checkpointing", action="store_true", help="no gradient checkpointing for any contender")
    parser.add_argument("--tusk-variants", type=_variants, default="same,no-ckpt",
                        help=f"tusk contenders, comma-separated, from {', '.join(TUSK_VARIANTS)}")
    parser.add_argument("--peak-tflops", type=positive_float, default=None,
                        help="device peak for MFU (default: bf16 dense from the device name, where known)")
    parser.add_argument("--device-note", default="", help="what machine this is, for the record")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "training.json"))
    args = parser.parse_args(argv)
    missing = [f for f in DATA_FILES if not (Path(args.data_dir) / f).is_file()]
    if missing:
        parser.error(f"--data-dir {args.data_dir}: no {missing[0]}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch
    from rich.console import Console
    from rich.table import Table

    from tusk.prompts import alpaca_prompt
    from tusk.train.masking import encode_examples
    from tusk.types import TrainingExample

    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else "cpu"
    bf16 = cuda and args.precision in ("auto", "bf16")
    peak = args.peak_tflops or (peak_tflops(device) if bf16 else None)
    pairs = read_texts(Path(args.data_dir), args.examples)
    examples = [TrainingExample(instruction=q, output=" " + a) for q, a in pairs]
    tokenizer = build_tokenizer([alpaca_prompt(e.instruction) + e.output for e in examples], args.vocab)
    data = encode_examples(tokenizer, examples, args.max_length)
    lengths = data.lengths
    results: list[dict] = []
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tusk-train-bench-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a time limit's SIGTERM still runs the finally
    try:
        counts = build_model_dir(work / "model", args.size, tokenizer, args.max_length, args.vocab)
        record = {
            "size": args.size, "parameters": counts["parameters"], "parameters_body": counts["body"],
            "parameters_head": counts["head"], "tokenizer_vocab": len(tokenizer), "model_vocab": counts["model_vocab"],
            "device": device, "device_note": args.device_note, "torch": torch.__version__,
            "precision": args.precision, "attn": args.attn, "gradient_checkpointing": not args.no_checkpointing,
            "peak_tflops": peak, "mfu_formula": MFU_FORMULA,
            "examples": len(lengths), "mean_tokens": float(lengths.mean()),
            "median_tokens": statistics.median(lengths.tolist()), "truncated": data.stats.truncated,
            "results": results, "argv": sys.argv[1:] if argv is None else argv,
        }

        def finished(result: dict) -> None:  # score it and rewrite the JSON: a time limit keeps what finished
            flops = 6 * counts["body"] * result["real_tokens_per_s"] + 6 * counts["head"] * result["target_tokens_per_s"]
            result["model_tflops_per_s"] = flops / 1e12
            result["mfu"] = flops / (peak * 1e12) if peak else None
            results.append(result)
            for r in results:
                r["speedup_vs_first"] = r["real_tokens_per_s"] / results[0]["real_tokens_per_s"]
            out.write_text(json.dumps(record, indent=1))
            if cuda:
                torch.cuda.empty_cache()

        for batch in args.baseline_batches:
            finished(run_hf_trainer(work / "model", data, args, batch, work / f"hf{batch}", tokenizer.pad_token_id))
        for variant in args.tusk_variants:
            if variant == "no-ckpt" and args.no_checkpointing:
                continue  # the same run as "same"
            finished(run_tusk(work / "model", data, args, work / f"tusk-{variant}", variant))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Table(title=f"training throughput ({args.size}: {counts['parameters'] / 1e6:.0f}M parameters, "
                        f"vocab {counts['model_vocab']:,} (tokenizer {len(tokenizer):,}), "
                        f"{'cuda ' + device if cuda else 'cpu'}, peak {peak or '-'} TFLOP/s)")
    for column in ("contender", "examples/step", "steps", "real tok/s", "target tok/s", "vs first", "TFLOP/s", "MFU"):
        table.add_column(column, justify="right" if column != "contender" else "left", no_wrap=column == "contender")
    for r in results:
        table.add_row(r["name"], str(r["examples_per_step"]), str(r["steps"]), f"{r['real_tokens_per_s']:,.0f}",
                      f"{r['target_tokens_per_s']:,.0f}", f"{r['speedup_vs_first']:.2f}x",
                      f"{r['model_tflops_per_s']:.3g}", "-" if r["mfu"] is None else f"{r['mfu']:.3f}")
    Console(width=None if sys.stdout.isatty() else 150).print(table)  # logs: no wrapped rows
    print(f"wrote {args.json}; mean length {lengths.mean():.0f} tokens; MFU: {MFU_FORMULA}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

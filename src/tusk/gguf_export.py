"""Export a plain HF folder (Llama or Qwen2 architecture, byte-level BPE tokenizer) to a GGUF file for the
``llamacpp`` backend.

Covers the models tusk fine-tunes on small machines (SmolLM2 and other Llama-architecture models, Qwen2 /
Qwen2.5): the weights are written as f32 or f16 (norms always f32), tensor names come from the ``gguf``
package's name map, the query/key rows of Llama models are permuted into llama.cpp's rotary layout, and the
tokenizer is written as a ``gpt2`` vocabulary with its merges, special tokens, pre-tokenizer name and chat
template.

Guarantees: an unsupported architecture or tokenizer raises :class:`tusk.errors.TuskError` naming it (no
half-right file is written: the file appears only when complete); :func:`check_exportable` runs the same
checks up front (``tusk train`` calls it before the first step).  Tested by loading the result in
llama.cpp and comparing its logits and tokenisation with transformers.
Does not: quantise (convert the f16 file with llama.cpp's ``llama-quantize`` for Q4/Q8).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from tusk.errors import MissingExtraError, TuskError

log = logging.getLogger(__name__)

_ARCHS = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}


def export_gguf(model_dir: str | Path, target: str | Path, dtype: str = "f16") -> Path:
    """Write ``model_dir`` (an HF folder) as a GGUF file at ``target``; ``dtype`` is f16 or f32."""
    try:
        import gguf
        import numpy as np
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as exc:
        raise MissingExtraError("GGUF export", "hf", exc) from None
    model_dir, target = Path(model_dir), Path(target)
    config = json.loads((model_dir / "config.json").read_text())
    arch = _arch(config.get("architectures") or [], str(model_dir))
    if dtype not in ("f16", "f32"):
        raise TuskError(f"GGUF export dtype must be f16 or f32, got {dtype!r}")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    cfg = model.config
    n_layers, n_head = cfg.num_hidden_layers, cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_head
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    gguf_arch = gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2
    names = gguf.get_tensor_name_map(gguf_arch, n_layers)

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    try:
        writer.add_name(model_dir.name)
        writer.add_context_length(cfg.max_position_embeddings)
        writer.add_embedding_length(cfg.hidden_size)
        writer.add_block_count(n_layers)
        writer.add_feed_forward_length(cfg.intermediate_size)
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_kv)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(float(_rope_theta(cfg)))
        writer.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
        writer.add_vocab_size(cfg.vocab_size)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
        _add_tokenizer(writer, gguf, model_dir, cfg.vocab_size)

        state = model.state_dict()
        if getattr(cfg, "tie_word_embeddings", False):
            state.pop("lm_head.weight", None)
        for name, tensor in state.items():
            if name.endswith("rotary_emb.inv_freq"):
                continue
            gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise TuskError(f"GGUF export: no GGUF name for tensor {name}")
            data = tensor.detach().float()
            if arch == "llama" and name.endswith("q_proj.weight"):
                data = _permute(data, n_head)
            elif arch == "llama" and name.endswith("k_proj.weight"):
                data = _permute(data, n_kv)
            array = data.numpy()
            if dtype == "f16" and array.ndim == 2:
                array = array.astype(np.float16)
            writer.add_tensor(gguf_name, np.ascontiguousarray(array))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s (%s, %s)", target, arch, dtype)
    return target


def _rope_theta(cfg: Any) -> float:
    params = getattr(cfg, "rope_parameters", None) or {}
    return params.get("rope_theta") or getattr(cfg, "rope_theta", None) or 10000.0


def _permute(weight: Any, heads: int) -> Any:
    """HF's rotate-half query/key rows -> llama.cpp's interleaved rotary layout (Llama architecture)."""
    rows, cols = weight.shape
    return weight.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def _pre_tokenizer_name(spec: dict[str, Any]) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenisation rules."""
    pre = spec.get("pre_tokenizer") or {}
    kinds = [p.get("type") for p in pre.get("pretokenizers", [])] if pre.get("type") == "Sequence" else [pre.get("type")]
    if kinds == ["ByteLevel"] and pre.get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"]:
        return "smollm"
    if kinds and kinds[0] == "Split" and "ByteLevel" in kinds:
        pattern = pre["pretokenizers"][0].get("pattern", {}).get("Regex", "")
        if pattern.startswith("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"):
            return "qwen2"
    raise TuskError(f"GGUF export: unsupported pre-tokenizer {json.dumps(pre)[:120]}")


def _arch(arch_names: list[str], what: str) -> str:
    arch = next((_ARCHS[a] for a in arch_names if a in _ARCHS), None)
    if arch is None:
        raise TuskError(f"GGUF export supports {', '.join(_ARCHS)}; {what} is {', '.join(arch_names) or '?'}")
    return arch


def _tokenizer_spec(tokenizer: Any, what: str) -> dict[str, Any]:
    """The tokenizer's ``tokenizer.json`` content, checked to be a BPE tokenizer GGUF export can write."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TuskError(f"GGUF export needs a fast tokenizer; {what} has {type(tokenizer).__name__}")
    spec = json.loads(backend.to_str())
    if spec.get("model", {}).get("type") != "BPE":
        raise TuskError(f"GGUF export supports BPE tokenizers; {what} has {spec.get('model', {}).get('type')}")
    _pre_tokenizer_name(spec)
    return spec


def check_exportable(architectures: list[str], tokenizer: Any, what: str) -> None:
    """Raise :class:`TuskError` when a model with these ``architectures`` (its config's list) and this
    tokenizer could not be exported; lets a training run with ``export_gguf`` fail before its first step
    rather than after the last.  ``what`` names the model in the message."""
    try:
        import gguf  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("GGUF export", "hf", exc) from None
    _arch(list(architectures or []), what)
    _tokenizer_spec(tokenizer, what)


def _add_tokenizer(writer: Any, gguf: Any, model_dir: Path, vocab_size: int) -> None:
    from transformers import AutoTokenizer

    # the tokenizer as transformers loads it (it may replace the file's pre-tokenizer for a model type)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    spec = _tokenizer_spec(tokenizer, str(model_dir))
    model = spec["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    special = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    is_special = {t["content"]: bool(t.get("special")) for t in spec.get("added_tokens", [])}
    vocab.update(special)
    by_id = {i: tok for tok, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in special:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if is_special[token] else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer_name(spec))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if tokenizer.bos_token_id is not None:
        writer.add_bos_token_id(tokenizer.bos_token_id)
    if tokenizer.eos_token_id is not None:
        writer.add_eos_token_id(tokenizer.eos_token_id)
    if tokenizer.pad_token_id is not None:
        writer.add_pad_token_id(tokenizer.pad_token_id)
    first = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(bool(first) and first[0] == tokenizer.bos_token_id)
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:
        writer.add_chat_template(template)

"""Llama shapes for the benchmarks' random-weight models, shared by generation.py and training.py.

``1b`` is TinyLlama's (1.1B parameters, grouped-query attention with 4 key/value heads), the model size the
GPU targets are stated for; ``tiny`` runs the same code paths in seconds on a CPU.
"""

LLAMA_SHAPES: dict[str, dict[str, int]] = {
    "1b": {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
           "num_key_value_heads": 4},
    "tiny": {"hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2},
}

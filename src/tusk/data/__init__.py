"""The MathInstruct builder: hybrid CoT/PoT instruction data, verified by execution.

Stages (each a module, each taking and returning frozen dataclasses):

``sources``        upstream files -> :class:`~tusk.data.records.SourceItem` (a gradable problem plus the
                   human rationale when the source has one)
``synthesise``     problems -> teacher-written CoT / PoT rationales through any tusk backend (cached)
``verify``         PoT rationales -> executed in the sandbox and graded against the gold (keep / drop, why)
``dedup``          exact and near-duplicate instructions removed (MinHash over word shingles)
``decontaminate``  examples whose question overlaps an evaluation set (word n-grams) flagged and dropped
``mixture``        per-component caps / weights, seeded selection
``build``          the whole pipeline from a YAML config to ``train.json`` + ``manifest.json`` (resumable)
``stats``          mixture tables, token-length distributions and plots of a built dataset

Importing this package does no work and imports nothing heavy.
"""

"""``tusk data build``: a YAML config -> ``train.json`` (Alpaca list) and ``manifest.json`` in one folder.

Pipeline: load each component's source -> synthesise rationales where the config asks -> verify (execute
PoT, grade against the gold) -> deduplicate -> decontaminate against the evaluation sets -> choose the
mixture -> write.  Beside ``train.json`` the folder holds ``verification.jsonl`` (every checked example:
kept or not, status, prediction, rule), ``dedup.jsonl`` and ``decontamination.jsonl`` (every drop and
match, for review), and the ``hf/`` and ``train.parquet`` exports when asked for (removed when a rebuild does
not ask for them).  ``manifest.json`` is written last: its counts are computed from exactly the records
written, with the sha256 of every input (by absolute path), of every evaluation file decontamination read,
of ``train.json``, of the review files and of every export file.

Counting: ``verified`` examples passed a check against a gold answer (or are human rationales, kept as
written); ``unverified`` ones were kept without one (PoT programs of records with no gold, which are only
known to run and print, rule ``no-gold``; teacher outputs of a ``verify: false`` component).  ``no_gold``
programs are outside ``checked``, ``passed`` and ``pass_rate``, and a component with some logs a warning.

Before any work: every component's teacher is loaded (a wrong ``synthesise.teacher`` or ``teacher_options`` is
an error naming the config key).  A source file that holds no records is an error naming the file; a
component that ends with 0 records is a warning, and a build that ends with 0 records in all is an error (the
review files are written, ``train.json`` and ``manifest.json`` are not).  A component whose source is itself
an evaluation set (``eval_set`` in the source registry: the shared NumGLUE and TheoremQA copies) is always
decontaminated against that benchmark too (logged, and listed in the manifest).

Resumable: teacher generations and verdicts are appended to ``.work/*.jsonl`` as they are made, so a build
that is killed and run again with the same folder redoes only what is missing; final files are replaced
atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tusk import __version__
from tusk.cache import sha256_file
from tusk.data.config import BuildConfig, ComponentConfig
from tusk.data.decontaminate import evaluation_files, evaluation_problems, find_contamination
from tusk.data.dedup import deduplicate
from tusk.data.manifest import REVIEW_FILES
from tusk.data.mixture import choose, component_sizes, shuffled
from tusk.data.records import Candidate, SourceItem
from tusk.data.sources import SOURCES
from tusk.data.synthesise import GenerationCache, synthesise
from tusk.data.verify import Verdict, VerdictCache, verify
from tusk.errors import DataError, MissingExtraError, TuskError
from tusk.progress import ProgressBar

log = logging.getLogger(__name__)

BackendFactory = Callable[[str], Any]


@dataclass(frozen=True)
class BuildResult:
    out: Path
    records: int
    manifest: dict[str, Any]


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    tmp.replace(path)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _skip(bar: ProgressBar, count: int) -> None:
    """Count ``count`` units that needed no work (cached) as done before ``bar`` started: its rate and ETA
    then measure only new work."""
    bar.done += count
    bar._initial += count  # ProgressBar keeps its "done before it started" count here


def _unverified(verdict: Verdict) -> bool:
    """Kept without any check against a gold answer."""
    return verdict.kept and (verdict.rule == "no-gold" or verdict.status == "unchecked")


def training_record(candidate: Candidate) -> dict[str, Any]:
    e = candidate.example
    return {"instruction": e.instruction, "input": e.input, "output": e.output, "source": e.source, "mode": e.mode}


class _Builder:
    def __init__(self, config: BuildConfig, out: Path, data_dir, backend_factory, show_progress: bool):
        self.config, self.out, self.progress = config, out, show_progress
        self.data_dir = data_dir or config.data_dir
        self.data_dir_origin = None if data_dir or not config.data_dir else f"data_dir of {config.origin}"
        self.work = out / ".work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.backend_factory = backend_factory
        self.backends: dict[str, Any] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, dict[str, Any]] = {}

    def backend(self, spec: str, options: dict):
        key = json.dumps([spec, options], sort_keys=True)
        if key not in self.backends:
            if self.backend_factory is not None:
                self.backends[key] = self.backend_factory(spec)
            else:
                from tusk.backends import load_backend

                self.backends[key] = load_backend(spec, **options)
        return self.backends[key]

    def preflight(self) -> None:
        """Load every teacher before any work, so a wrong teacher or option fails at once, naming its key."""
        for i, component in enumerate(self.config.components):
            settings = component.synthesise
            if settings is None:
                continue
            at = f"{self.config.origin}: components[{i}].synthesise"
            if self.backend_factory is None:
                from tusk.backends import parse_model_spec

                try:
                    parse_model_spec(settings.teacher)
                except TuskError as exc:
                    raise DataError(f"{at}.teacher: {exc}") from None
            try:
                self.backend(settings.teacher, dict(settings.teacher_options))
            except MissingExtraError:
                raise
            except TypeError as exc:
                raise DataError(f"{at}.teacher_options: {exc}") from None
            except TuskError as exc:
                raise DataError(f"{at}.teacher: {exc}") from None

    def resolve(self, source, component: ComponentConfig) -> list[Path]:
        try:
            return source.resolve(component.files or None, self.data_dir, base=self.config.base_dir)
        except DataError as exc:
            if self.data_dir_origin is None:
                raise
            raise DataError(str(exc).replace("--data-dir", self.data_dir_origin)) from None

    def load(self, component: ComponentConfig) -> list[SourceItem]:
        source = SOURCES[component.source]
        items: list[SourceItem] = []
        for path in self.resolve(source, component):
            path = Path(path).resolve()  # data check may run from another folder than the build
            key = str(path)
            if key not in self.inputs:
                self.inputs[key] = {"source": source.name, "path": key, "bytes": path.stat().st_size,
                                    "sha256": sha256_file(path)}
            found = list(source.load_file(path))
            if not found:
                raise DataError(f"source {source.name}: {path} holds no records (an empty or truncated file?)")
            items.extend(found)
            if component.limit is not None and len(items) >= component.limit:
                break
        return items[: component.limit] if component.limit is not None else items

    def candidates(self, component: ComponentConfig, items: list[SourceItem]) -> list[Candidate]:
        stats = self.stats[component.name]
        settings = component.synthesise
        if settings is None:
            out = [
                Candidate(f"{component.name}/{i.problem.id}", component.name, "human", i.problem, i.example)
                for i in items
                if i.example is not None and i.example.mode == component.mode
            ]
            stats["no_rationale"] = len(items) - len(out)
            return out
        backend = self.backend(settings.teacher, dict(settings.teacher_options))
        stats["teacher"] = backend.describe()
        stats["synthesis"] = {k: v for k, v in settings.__dict__.items()}
        cache = GenerationCache(self.work / f"synthesis-{_safe(component.name)}.jsonl")
        with ProgressBar(f"synthesise {component.name}", len(items), enabled=self.progress) as bar:
            return list(synthesise(items, settings, backend, component.name, cache, bar.advance,
                                   source=component.source, on_cached=lambda n: _skip(bar, n)))

    def run(self) -> BuildResult:
        config = self.config
        started = time.time()
        self.preflight()
        pool: list[Candidate] = []
        for component in config.components:
            self.stats[component.name] = {"source": component.source, "mode": component.mode}
            items = self.load(component)
            self.stats[component.name]["problems"] = len(items)
            found = self.candidates(component, items)
            self.stats[component.name]["candidates"] = len(found)
            pool.extend(found)
        verdicts = self.verify(pool)
        verified = [c for c, v in zip(pool, verdicts) if v.kept]
        survivors, dedup_rows = self.dedup(verified)
        clean, contamination_rows = self.decontaminate(survivors)
        chosen = self.mix(clean)
        records = [training_record(c) for c in chosen]
        _write_jsonl(self.out / "verification.jsonl", self.verification_rows(pool, verdicts))
        _write_jsonl(self.out / "dedup.jsonl", dedup_rows)
        _write_jsonl(self.out / "decontamination.jsonl", contamination_rows)
        self.warn_empty()
        if not records:
            for backend in self.backends.values():
                backend.close()
            raise DataError(f"the build has 0 records ({self.funnel_text()}); train.json and manifest.json "
                            f"were not written; see verification.jsonl, dedup.jsonl, decontamination.jsonl in "
                            f"{self.out}")
        _write_json(self.out / "train.json", records)
        exports = self.export(records)
        manifest = self.manifest(records, chosen, exports, time.time() - started)
        _write_json(self.out / "manifest.json", manifest)
        for backend in self.backends.values():
            backend.close()
        return BuildResult(self.out, len(records), manifest)

    def verify(self, pool: list[Candidate]) -> list[Verdict]:
        by_name = {c.name: c for c in self.config.components}
        checked_idx = [i for i, c in enumerate(pool) if by_name[c.component].verify and
                       (c.origin != "human" or c.mode == "pot")]
        verdicts = [Verdict(kept=True, status="human" if c.origin == "human" else "unchecked", rule="not-verified")
                    for c in pool]
        if checked_idx:
            cache = VerdictCache(self.work / "verdicts.jsonl")
            try:
                with ProgressBar("verify", len(checked_idx), enabled=self.progress) as bar:
                    results = verify([pool[i] for i in checked_idx], self.config.verify, cache, bar.advance,
                                     on_cached=lambda n: _skip(bar, n))
            finally:
                cache.close()
            for i, verdict in zip(checked_idx, results):
                verdicts[i] = verdict
        for component in self.config.components:
            mine = [v for c, v in zip(pool, verdicts) if c.component == component.name]
            no_gold = sum(v.rule == "no-gold" for v in mine)
            checked = [v for v in mine if v.status not in ("human", "unchecked") and v.rule != "no-gold"]
            passed = sum(v.kept for v in checked)
            self.stats[component.name]["verification"] = {
                "checked": len(checked),
                "passed": passed,
                "pass_rate": round(passed / len(checked), 4) if checked else None,
                "dropped": dict(Counter(v.reason for v in checked if not v.kept)),
                "no_gold": no_gold,
            }
            self.stats[component.name]["verified"] = sum(v.kept and not _unverified(v) for v in mine)
            self.stats[component.name]["unverified"] = sum(_unverified(v) for v in mine)
            if no_gold:
                log.warning("component %s: %d of %d examples have no gold answer; they are kept as unverified "
                            "(a program only has to run and print; an 'answer' field would let them be checked)",
                            component.name, no_gold, len(mine))
        return verdicts

    def verification_rows(self, pool: list[Candidate], verdicts: list[Verdict]) -> list[dict[str, Any]]:
        return [
            {"key": c.key, "component": c.component, "problem": c.problem.id, "kept": v.kept, "status": v.status,
             "prediction": v.prediction, "gold": c.problem.answer, "rule": v.rule, "error": v.error}
            for c, v in zip(pool, verdicts)
            if v.status not in ("human", "unchecked")
        ]

    def dedup(self, verified: list[Candidate]) -> tuple[list[Candidate], list[dict[str, Any]]]:
        for stats in self.stats.values():
            stats["dedup_dropped"] = 0
        if self.config.dedup is None:
            return verified, []
        rows = []
        keep: set[int] = set()
        self.dedup_counts: Counter[str] = Counter()
        with ProgressBar("deduplicate", None, enabled=self.progress):
            for mode in ("cot", "pot"):  # a question's CoT and PoT versions are never duplicates
                idx = [i for i, c in enumerate(verified) if c.mode == mode]
                result = deduplicate([verified[i].example.instruction for i in idx],
                                     [verified[i].example.output for i in idx], self.config.dedup,
                                     answers=[verified[i].problem.answer for i in idx])
                keep.update(idx[j] for j in result.keep)
                self.dedup_counts.update(result.counts())
                for drop in result.dropped:
                    victim, kept = verified[idx[drop.index]], verified[idx[drop.kept]]
                    self.stats[victim.component]["dedup_dropped"] += 1
                    rows.append({"key": victim.key, "component": victim.component, "kept": kept.key,
                                 "reason": drop.reason, "similarity": drop.similarity})
        return [c for i, c in enumerate(verified) if i in keep], rows

    def decontaminate(self, survivors: list[Candidate]) -> tuple[list[Candidate], list[dict[str, Any]]]:
        for stats in self.stats.values():
            stats["contaminated"] = 0
        settings = self.config.decontaminate
        eval_sets = {c.name: SOURCES[c.source].eval_set for c in self.config.components if SOURCES[c.source].eval_set}
        if settings is None:
            for name, benchmark in eval_sets.items():
                log.warning("component %s: its source is the %s evaluation set and decontaminate is off: "
                            "evaluation questions go into train.json", name, benchmark)
            return survivors, []
        from tusk.benchmarks import PAPER_BENCHMARKS

        benchmarks = list(settings.benchmarks or PAPER_BENCHMARKS)
        for name, benchmark in eval_sets.items():
            log.warning("component %s: its source is the %s evaluation set; decontaminating against %s too",
                        name, benchmark, benchmark)
            if benchmark not in benchmarks:
                benchmarks.append(benchmark)
        self.eval_benchmarks, self.eval_set_components = benchmarks, eval_sets
        try:
            problems = evaluation_problems(benchmarks, self.data_dir)
            self.eval_inputs = evaluation_files(benchmarks, self.data_dir)
        except DataError as exc:
            if self.data_dir_origin is None:
                raise
            raise DataError(str(exc).replace("--data-dir", self.data_dir_origin)) from None
        with ProgressBar("decontaminate", len(survivors), enabled=self.progress) as bar:
            matches = find_contamination([c.problem.question for c in survivors], problems, settings, bar.advance)
        flagged = {m.index for m in matches}
        rows = []
        for m in matches:
            victim = survivors[m.index]
            self.stats[victim.component]["contaminated"] += 1
            rows.append({"key": victim.key, "component": victim.component, "question": victim.problem.question[:300],
                         "benchmark": m.benchmark,
                         "eval_id": m.problem_id, "overlap": m.overlap, "shared_ngrams": m.shared})
        self.eval_problems = len(problems)
        return [c for i, c in enumerate(survivors) if i not in flagged], rows

    def mix(self, clean: list[Candidate]) -> list[Candidate]:
        components = self.config.components
        groups: dict[str, list[Candidate]] = {c.name: [] for c in components}
        for candidate in clean:
            groups[candidate.component].append(candidate)
        sizes = component_sizes(
            {name: len(g) for name, g in groups.items()},
            {c.name: c.cap for c in components},
            {c.name: c.weight for c in components},
            self.config.mixture.total,
        )
        chosen: list[Candidate] = []
        for name, group in groups.items():
            self.stats[name]["available"] = len(group)
            picked = choose(group, sizes[name], self.config.seed, name)
            self.stats[name]["selected"] = len(picked)
            chosen.extend(picked)
        return shuffled(chosen, self.config.seed) if self.config.mixture.shuffle else chosen

    def funnel_text(self, name: str | None = None) -> str:
        names = [name] if name else list(self.stats)
        parts = []
        for n in names:
            s = self.stats[n]
            parts.append(f"{n}: problems {s.get('problems')}, candidates {s.get('candidates')}, verified "
                         f"{s.get('verified')}, unverified {s.get('unverified')}, dedup -{s.get('dedup_dropped')}, "
                         f"contaminated -{s.get('contaminated')}, selected {s.get('selected')}")
        return "; ".join(parts)

    def warn_empty(self) -> None:
        for component in self.config.components:
            if self.stats[component.name].get("selected") == 0 and component.cap != 0:
                log.warning("component %s ends with 0 records (%s)", component.name, self.funnel_text(component.name))

    def export(self, records: list[dict[str, Any]]) -> dict[str, dict]:
        from tusk.data.export import write_exports

        return write_exports(records, self.out, parquet=self.config.export.parquet, hf=self.config.export.hf)

    def manifest(self, records, chosen: list[Candidate], exports: dict[str, dict], seconds: float) -> dict[str, Any]:
        by_source = Counter(r["source"] for r in records)
        by_mode = Counter(r["mode"] for r in records)
        by_component = Counter(c.component for c in chosen)
        settings = self.config.decontaminate
        grader = None
        try:
            from tusk.grading import get_grader

            g = get_grader(self.config.verify.grader)
            grader = {"name": g.name, "version": getattr(g, "version", "")}
        except Exception:  # noqa: BLE001 - the manifest still names the configured grader
            grader = {"name": self.config.verify.grader, "version": None}
        return {
            "tusk_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(seconds, 1),
            "seed": self.config.seed,
            "config": self.config.raw,
            "config_sha256": self.config.sha256,
            "records": len(records),
            "mixture": {"total": self.config.mixture.total, "reached": len(records),
                        "shuffle": self.config.mixture.shuffle},
            "output": {"train.json": {"sha256": sha256_file(self.out / "train.json"), "records": len(records)},
                       **{k: v for k, v in exports.items()}},
            "counts": {
                "by_source_mode": {f"{s}/{m}": n for (s, m), n in
                                   sorted(Counter((r["source"], r["mode"]) for r in records).items())},
                "by_source": dict(sorted(by_source.items())),
                "by_mode": dict(sorted(by_mode.items())),
                "by_component": {c.name: by_component.get(c.name, 0) for c in self.config.components},
            },
            "components": self.stats,
            "verification": {"grader": grader, "timeout": self.config.verify.timeout},
            "dedup": None if self.config.dedup is None else {
                "settings": self.config.dedup.__dict__, "dropped": dict(getattr(self, "dedup_counts", {}))},
            "reviews": {name: _review(self.out / name) for name in REVIEW_FILES},
            "decontamination": None if settings is None else {
                "settings": {**settings.__dict__, "benchmarks": list(settings.benchmarks) or "paper nine"},
                "benchmarks": getattr(self, "eval_benchmarks", []),
                "eval_set_components": getattr(self, "eval_set_components", {}),
                "eval_problems": getattr(self, "eval_problems", 0),
                "inputs": getattr(self, "eval_inputs", []),
                "dropped": sum(s["contaminated"] for s in self.stats.values()),
                "by_benchmark": dict(Counter(
                    json.loads(line)["benchmark"]
                    for line in (self.out / "decontamination.jsonl").read_text().splitlines() if line)),
            },
            "inputs": sorted(self.inputs.values(), key=lambda x: x["path"]),
        }


def _review(path: Path) -> dict[str, Any]:
    rows = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {"sha256": sha256_file(path), "rows": rows}


def build_dataset(
    config: BuildConfig,
    out: str | Path,
    data_dir: str | Path | None = None,
    backend_factory: BackendFactory | None = None,
    show_progress: bool = False,
) -> BuildResult:
    """Run the whole pipeline into ``out`` (created if needed; caches there are reused)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from exc
    return _Builder(config, out, data_dir, backend_factory, show_progress).run()

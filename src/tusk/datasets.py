"""Where data comes from: the user's data folder, the user cache, or a download pinned by sha256.

:func:`resolve_file` finds one data file, named by its path relative to a folder laid out like the project's
shared data folder (``"gsm8k/test.jsonl"``), in this order:

1. ``data_dir`` (the CLI's ``--data-dir``), else ``$TUSK_DATA_DIR``: the user's own files, used as they are
   (not hashed: a user may point tusk at an edited copy on purpose);
2. the user cache, ``tusk.cache.cache_dir("data")/<relpath>``: its sha256 must match the pin (a stamp file
   remembers the check while size and mtime are unchanged); a file that fails is deleted and fetched again;
3. a download, from ``$TUSK_DATA_URL/<relpath>`` when that mirror (a folder laid out like the data folder,
   served over http(s) or ``file://``) is set, else from the file's pinned commit on
   raw.githubusercontent.com.  The bytes go to a temp file beside the target, are hashed as they arrive,
   and are renamed into place only when the sha256 matches; a mismatch is deleted and refused.

Guarantees: a file returned from the cache or a download has exactly the pinned bytes; no partial file is
ever left at a final path; every failure is one :class:`~tusk.errors.DataError` line naming the file, the
places tried and the fix (``pass --data-dir DIR or set TUSK_DATA_DIR``).
Does not: hash the user's own data folder, download anything not listed in :data:`DATA_FILES`, retry, or
assemble files that upstream splits into many pieces (MATH: see :attr:`DataFile.url`).
``$TUSK_OFFLINE=1`` turns downloads off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tusk.cache import cache_dir, verified_sha256
from tusk.errors import DataError
from tusk.progress import ProgressBar

log = logging.getLogger(__name__)

UPSTREAM_BASE = "https://raw.githubusercontent.com"
DATA_DIR_ENV = "TUSK_DATA_DIR"
DATA_URL_ENV = "TUSK_DATA_URL"
OFFLINE_ENV = "TUSK_OFFLINE"
HINT = "pass --data-dir DIR or set TUSK_DATA_DIR"
_PROGRESS_MIN_BYTES = 1 << 20
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DataFile:
    """One pinned data file: where it lives relative to a data folder, where it comes from, its bytes.

    ``url`` is the pinned upstream location, or None when the file is not one upstream file (then
    ``source`` says what it was assembled from and only a data folder or a mirror can provide it).
    """

    relpath: str
    url: str | None
    sha256: str
    licence: str
    size: int
    records: int
    source: str


def _pinned(relpath: str, repo_at_commit: str, source_path: str, sha256: str, size: int, records: int,
            licence: str) -> DataFile:
    repo, commit = repo_at_commit.split("@")
    if "<" in source_path:  # a pattern: many upstream files concatenated into one
        url = None
        source = f"assembled from {repo}@{commit[:12]}:{source_path}"
    else:
        url = f"{UPSTREAM_BASE}/{repo}/{commit}/{source_path}"
        source = f"{repo}@{commit[:12]}:{source_path}"
    return DataFile(relpath, url, sha256, licence, size, records, source)


_MMLU_LICENCE = "MIT (MMLU, hendrycks/test); copied from a CS336 course repo without its own license"
_MAMMOTH2 = "TIGER-AI-Lab/MAmmoTH2@9c67cb137b87e3c2f68ab412c6731b1f47a51b55"
_CS336 = "Brian-Ckwu/stanford-cs336-assignment5-alignment@e14185396ff431ec91d6dad0da067c145b209ac3"
_GSM8K = "openai/grade-school-math@3101c7d5072418e28b9008a6636bde82a006892c"
_MATH = "aiwaves-cn/agents@e8c4e3c2d19739d3dff59e577d1c97090cc15f59"
_MATH500 = "ZubinGou/math-evaluation-harness@db77bc6bb2a17c90ed2d63e88ebd8c40a82858c5"
_AGIEVAL = "microsoft/AGIEval@b1187aa0bf0e14125cb9a6c58f25288a4e272e64"
_SVAMP = "arkilpatel/SVAMP@689d7ccac74b9983a2ac7cc3b264f441b99e7c53"
_THEOREMQA = "wenhuchen/TheoremQA@585c960f647b3cae8b37ff71fd9dac45ce4b4e91"
_AQUA = "google-deepmind/AQuA@26b64ed1f22208c6742f47df547dfd65088ec30d"
_MATHQA = "shaigue/mathqa@175079e579ae1948a80a948c4b00c43d082ddb2e"
_MATHQA_LICENCE = "Apache-2.0 per math-qa.github.io; the source repository has no LICENSE file"

# (relpath, repo@commit, path in that repo, sha256, bytes, records, licence); from the shared MANIFEST.tsv.
_TABLE: tuple[tuple[str, str, str, str, int, int, str], ...] = (
    ("aqua/dev.json", _AQUA, "dev.json",
     "4a52301d8a49ae0b286f8e697f9c5da1b109b247b825b47b4c6de34312dceec5", 132_008, 254,
     "Apache-2.0"),
    ("aqua/test.json", _AQUA, "test.json",
     "de41581881ef95c5588c44ddc701c77fd480839241dd422a0d181262af24520c", 130_192, 254,
     "Apache-2.0"),
    ("deepmind/deepmind.json", _MAMMOTH2, "math_eval/dataset/deepmind/deepmind.json",
     "1caa7e191af2df1c110ca405dcaf7fc663a1bac16f589e6af853bff5d1012a11", 113_370, 1000,
     "MIT (repo); DeepMind Mathematics Apache-2.0"),
    ("gsm8k/test.jsonl", _GSM8K, "grade_school_math/data/test.jsonl",
     "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14", 749_738, 1319,
     "MIT"),
    ("gsm8k/train.jsonl", _GSM8K, "grade_school_math/data/train.jsonl",
     "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465", 4_166_206, 7473,
     "MIT"),
    ("math/hendrycks_test.jsonl", _MATH, 
     "src/agents/datasets/data/math/test/<subject>/<n>.json",
     "021684d49ed6ca5547088591a79b77fcc159ddc7a0a3defdef353575414efa6f", 4_263_696, 5000,
     "MIT (Hendrycks MATH); repo Apache-2.0"),
    ("math/hendrycks_train.jsonl", _MATH, 
     "src/agents/datasets/data/math/train/<subject>/<n>.json",
     "de0f643c7adf9d13a58ab745dbdc767230aa77b863c7d91c0a333b9b73dc4fbc", 6_796_798, 7500,
     "MIT (Hendrycks MATH); repo Apache-2.0"),
    ("math/test_math500.jsonl", _MATH500, "data/math_oai/test.jsonl",
     "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132", 446_564, 500,
     "MIT (Hendrycks MATH / PRM800K split)"),
    ("mathqa/challenge_test.json", _MATHQA, "data/MathQA/challenge_test.json",
     "76cfe1091d19c61a95abc8cca23dfde9e1690bdb6a0b42a35453193483253579", 513_518, 604,
     _MATHQA_LICENCE),
    ("mathqa/dev.json", _MATHQA, "data/MathQA/dev.json",
     "aeca12424fc8f32d0e35c09b7738986a446c12f110c8071f3cc8913712f04bf3", 3_505_596, 4475,
     _MATHQA_LICENCE),
    ("mathqa/test.json", _MATHQA, "data/MathQA/test.json",
     "dfe7bc4691caf26842ccd4cf14e8f978327bab4f2989e0b076a4e6b38a9371d1", 2_346_754, 2985,
     _MATHQA_LICENCE),
    ("mmlu_math/mathematics.json", _MAMMOTH2, "math_eval/dataset/mmlu/mathematics.json",
     "4d07b027d398890e5bc1bbee5ed568fd4b3ba9bb4539d076fe082107d0e9d8bf", 335_221, 974,
     "MIT (repo); MMLU MIT"),
    ("mmlu_math/raw/dev/abstract_algebra_dev.csv", _CS336, "data/mmlu/dev/abstract_algebra_dev.csv",
     "bd8c73f3c75bea9db82d281d9da6949cea687b987dba24a142c638e758046624", 719, 5,
     _MMLU_LICENCE),
    ("mmlu_math/raw/dev/college_mathematics_dev.csv", _CS336, "data/mmlu/dev/college_mathematics_dev.csv",
     "27731ee1402e720ee01ad6fa6a969a0d0978a0e9b4c385d328a61869a43f321f", 1_366, 5,
     _MMLU_LICENCE),
    ("mmlu_math/raw/dev/elementary_mathematics_dev.csv", _CS336,
     "data/mmlu/dev/elementary_mathematics_dev.csv",
     "9aca9cd215b7c170020fd5f7db1c9c3d5cbf6df9ee7b970a4810649a87245011", 1_315, 5,
     _MMLU_LICENCE),
    ("mmlu_math/raw/dev/formal_logic_dev.csv", _CS336, "data/mmlu/dev/formal_logic_dev.csv",
     "e4b579358ed4878f6c91bfea0ccc51efdd15a28401f86da9ee8f6c0af37cf36d", 1_628, 5,
     _MMLU_LICENCE),
    ("mmlu_math/raw/dev/high_school_mathematics_dev.csv", _CS336,
     "data/mmlu/dev/high_school_mathematics_dev.csv",
     "d7401d5cbad5ae697bfa480e35d85de8ebf1232589a3c59b010782ee49cbe18c", 1_168, 5,
     _MMLU_LICENCE),
    ("mmlu_math/raw/test/abstract_algebra_test.csv", _CS336, "data/mmlu/test/abstract_algebra_test.csv",
     "4be89c0fb1d2419722e88880f6da3da95750367185ecd36f6492a6f74785cf64", 17_358, 100,
     _MMLU_LICENCE),
    ("mmlu_math/raw/test/college_mathematics_test.csv", _CS336, "data/mmlu/test/college_mathematics_test.csv",
     "8b5bef14d4209c7918eaf947e4f12a5ae9470567722d8ba9761302d733e8ac71", 22_429, 100,
     _MMLU_LICENCE),
    ("mmlu_math/raw/test/elementary_mathematics_test.csv", _CS336,
     "data/mmlu/test/elementary_mathematics_test.csv",
     "65a46a0e1927ea37aabd031ddcb6d81eef70a7eee1e9e0af94ec8e3fa21d728b", 61_602, 378,
     _MMLU_LICENCE),
    ("mmlu_math/raw/test/formal_logic_test.csv", _CS336, "data/mmlu/test/formal_logic_test.csv",
     "bc2dc7373a664ae72e166dcbe3f7aaf1bb65b99f106f1831f335c53467f35248", 46_929, 126,
     _MMLU_LICENCE),
    ("mmlu_math/raw/test/high_school_mathematics_test.csv", _CS336,
     "data/mmlu/test/high_school_mathematics_test.csv",
     "fe8f7a154834bba30947401ba37ea6c7afdcfba82ddc341c79b5d3016991d290", 48_584, 270,
     _MMLU_LICENCE),
    ("mmlu_math/raw/val/abstract_algebra_val.csv", _CS336, "data/mmlu/val/abstract_algebra_val.csv",
     "ab0c6d19c4523969ec7b553ed49adecdb9cc00decc76c26c56c42ba198d8047c", 1_791, 11,
     _MMLU_LICENCE),
    ("mmlu_math/raw/val/college_mathematics_val.csv", _CS336, "data/mmlu/val/college_mathematics_val.csv",
     "12621b0f192fe8773cac843c5bdc4777cc81d66b31c41188a3096e20dde143f8", 2_405, 11,
     _MMLU_LICENCE),
    ("mmlu_math/raw/val/elementary_mathematics_val.csv", _CS336,
     "data/mmlu/val/elementary_mathematics_val.csv",
     "bc9806fe460cac380621592710b4eb64051151f7adfc7d87bfc4616a4473cff9", 8_034, 41,
     _MMLU_LICENCE),
    ("mmlu_math/raw/val/formal_logic_val.csv", _CS336, "data/mmlu/val/formal_logic_val.csv",
     "306d64079d5a16516470cc059e8e313abc06ceeec8c1131af582e30fb6f21667", 5_930, 14,
     _MMLU_LICENCE),
    ("mmlu_math/raw/val/high_school_mathematics_val.csv", _CS336,
     "data/mmlu/val/high_school_mathematics_val.csv",
     "233f0811fb852a080f52c9e9cb3ce7cfb76f54661dd6f8fddfdac6b8e2a989b2", 5_084, 29,
     _MMLU_LICENCE),
    ("numglue/numglue.json", _MAMMOTH2, "math_eval/dataset/numglue/numglue.json",
     "88d16c07e08b36492566ad0f35f95504cc1f1b15694c94052be0170d81d85936", 219_498, 1042,
     "MIT (MAmmoTH2 repo); NumGLUE data ODC-By 1.0 (allenai/numglue license.txt)"),
    ("sat/agieval_sat-math.jsonl", _AGIEVAL, "data/v1/sat-math.jsonl",
     "9cde4c0522b6196852a5562db6e72bf8817b4802822db0fc10013d1becdab3c3", 280_509, 220,
     "MIT"),
    ("sat/sat.json", _MAMMOTH2, "math_eval/dataset/sat/sat.json",
     "8e551d655828c4162e3f098c7c8fa560f8ba4bc7b6f24a9caa205f23bcd861d9", 90_663, 220,
     "MIT (repo); AGIEval SAT-Math MIT"),
    ("simuleq/simuleq.json", _MAMMOTH2, "math_eval/dataset/simuleq/simuleq.json",
     "2fdc97194c641c7c969866a2a25f01e6c6ae36b00391467d33e15a1a7d4e75e1", 126_444, 514,
     ("MIT (MAmmoTH2 repo); problems from ALG514/SimulEq (Kushman et al. 2014 via Lila, CC BY 4.0), "
      "upstream license unspecified")),
    ("svamp/SVAMP.json", _SVAMP, "SVAMP.json",
     "5be77703a6d891ae476d7c082787ad361392aa02453b132516cdd5f4e7934e3e", 339_970, 1000,
     "MIT"),
    ("theoremqa/theoremqa_test.json", _THEOREMQA, "theoremqa_test.json",
     "4a3c8683534cd1866491d309d16e2e4d79e8110bd503c91b5c4fecaa0f3744c8", 429_865, 800,
     "MIT"),
)

DATA_FILES: dict[str, DataFile] = {row[0]: _pinned(*row) for row in _TABLE}
"""Every data file tusk knows how to fetch, by path relative to a data folder."""


def data_file(relpath: str) -> DataFile | None:
    """The pinned entry for ``relpath``, or None for a file tusk has no pin for."""
    return DATA_FILES.get(relpath)


def resolve_file(
    relpath: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    base_url: str | None = None,
    download: bool | None = None,
) -> Path:
    """The local path of data file ``relpath``: from the data folder, the cache, or a verified download.

    ``base_url`` (default ``$TUSK_DATA_URL``) is a mirror laid out like the data folder; ``download``
    (default: on unless ``$TUSK_OFFLINE`` is set) allows fetching.  Raises :class:`DataError` when the file
    cannot be found or fetched, or when a download does not match its pinned sha256.
    """
    relpath = relpath.strip("/")
    looked: list[str] = []
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if folder is not None:
        candidate = Path(folder).expanduser() / relpath
        if candidate.is_file():
            return candidate
        source = "--data-dir" if data_dir is not None else DATA_DIR_ENV
        _warn_missing_folder(source, Path(folder).expanduser())
        looked.append(f"{source} {candidate}")
    else:
        looked.append(f"no --data-dir and {DATA_DIR_ENV} not set")

    pinned = DATA_FILES.get(relpath)
    cached = cache_dir("data") / relpath
    if cached.is_file() and pinned is not None:
        if verified_sha256(cached) == pinned.sha256:
            return cached
        log.warning("%s in the cache does not match its pinned sha256; fetching it again", cached)
        _remove(cached)
    looked.append(f"cache {cached}")

    if pinned is None:
        raise DataError(f"{relpath}: not found ({'; '.join(looked)}) and tusk has no pinned download "
                        f"for it; {HINT}")
    if download is None:
        download = not _truthy(os.environ.get(OFFLINE_ENV))
    if not download:
        raise DataError(f"{relpath}: not found ({'; '.join(looked)}) and downloads are off "
                        f"({OFFLINE_ENV}); {HINT}")
    base = base_url if base_url is not None else os.environ.get(DATA_URL_ENV) or None
    url = f"{base.rstrip('/')}/{relpath}" if base else pinned.url
    if url is None:
        raise DataError(f"{relpath}: not found ({'; '.join(looked)}); it has no single upstream file to "
                        f"download ({pinned.source}); {HINT} (a folder holding {relpath}), "
                        f"or set {DATA_URL_ENV} to a mirror of such a folder")
    fetch(url, cached, pinned.sha256, relpath=relpath, size=pinned.size, looked=looked)
    return cached


def fetch(url: str, target: Path, sha256: str, *, relpath: str = "", size: int = 0,
          looked: list[str] | None = None) -> None:
    """Download ``url`` to ``target`` atomically, refusing bytes whose sha256 is not ``sha256``."""
    name = relpath or target.name
    where = f"; looked in: {'; '.join(looked)}" if looked else ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise DataError(f"{name}: cannot write into the cache folder {target.parent} ({exc.strerror or exc}); "
                        f"set TUSK_CACHE_DIR to a writable folder, or {HINT}") from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o644)  # a shared cache stays readable to its other users (mkstemp makes 0600)
        with os.fdopen(fd, "wb") as out:
            digest = _copy_url(url, out, name, size)
        if digest != sha256:
            raise DataError(f"{name}: download from {url} has sha256 {digest}, expected {sha256}; "
                            f"refused and deleted (a corrupt or changed upstream file){where}")
        os.replace(tmp, target)
        log.info("downloaded %s from %s", name, url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataError(f"{name}: download from {url} failed ({_reason(exc)}){where}; {HINT}") from exc
    finally:
        _remove(tmp)


def _copy_url(url: str, out, name: str, size: int) -> str:
    """Stream ``url`` into ``out``; return the sha256 of what arrived.  Shows progress for big files."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or size or 0)
        with _progress(name, total) as bar:
            while block := response.read(1 << 16):
                digest.update(block)
                out.write(block)
                bar.advance(len(block))
    return digest.hexdigest()


def _progress(name: str, total: int) -> ProgressBar:
    """A download bar for big files (a live bar on a terminal, a line every 30 s in a log)."""
    return ProgressBar(f"download {name}", total or None, as_bytes=True, transient=True,
                       enabled=total >= _PROGRESS_MIN_BYTES)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sha256.json").unlink(missing_ok=True)
    except OSError as exc:
        raise DataError(f"cannot remove {path} from the cache ({exc.strerror or exc}); set TUSK_CACHE_DIR to "
                        "a writable folder") from None


_WARNED: set[Path] = set()


def _warn_missing_folder(source: str, folder: Path) -> None:
    """Say once per folder that a data folder given does not exist (a typo would otherwise go unnoticed)."""
    if folder not in _WARNED and not folder.is_dir():
        _WARNED.add(folder)
        log.warning("%s %s does not exist; looking in the cache and downloading instead", source, folder)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")

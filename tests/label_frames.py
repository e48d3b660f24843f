"""Label frames for dataset tests: a stand-in gazetteer, rows in the teacher_labels layout,
and a shortcut that builds a dataset folder from them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.dataset.clean import CleaningParams, build_training_dataset

# A tiny stand-in gazetteer: (province, city, district) official names and their short forms.
OFFICIAL = [
    ("云南省", "大理白族自治州", "大理市"),
    ("天津市", "天津市", "河西区"),
    ("浙江省", "杭州市", "西湖区"),
]
SHORT = {
    "云南": "云南省",
    "大理": "大理白族自治州",
    "天津": "天津市",
    "浙江": "浙江省",
    "杭州": "杭州市",
}


def canon(p: str, c: str, d: str) -> tuple[str, str, str] | None:
    p, c = SHORT.get(p, p), SHORT.get(c, c)
    hits = [o for o in OFFICIAL if (not p or o[0] == p) and (not c or o[1] == c)]
    hits = [o for o in hits if not d or o[2] == d]
    return hits[0] if len(hits) == 1 else None


def small_params(**kw) -> CleaningParams:
    return CleaningParams(**{"test_size": 2, "val_fraction": 0.1, **kw})


def label(p, c, d, loc, name, phone) -> dict[str, str]:
    return dict(zip(FIELDS, (p, c, d, loc, name, phone), strict=True))


def frames(rows: Sequence[tuple[str, str, dict | None, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rows: (id, text, label or None for "no label row", status)."""
    raw = pd.DataFrame({"id": [r[0] for r in rows], "text": [r[1] for r in rows]})
    raw["source"] = "test"
    raw["style"] = ""
    lab = []
    for rid, text, lb, status in rows:
        if lb is not None:
            lab.append({"id": rid, "text": text, **lb, "status": status, "error": ""})
    labels = pd.DataFrame(lab).astype({f: object for f in FIELDS})
    return raw, labels


GOOD_TEXT = "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟"
GOOD = label("云南", "", "大理市", "人民路25号 大理古城国际酒店 3号楼", "段丽娟", "232-0475-3945")


def filler(n: int, start: int = 0) -> list[tuple[str, str, dict, str]]:
    """n distinct, valid rows (different people) in 天津."""
    out = []
    for i in range(start, start + n):
        phone = f"139{i:08d}"
        name = "王" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "子丑寅卯辰巳午未申酉"[i // 10 % 10]
        loc = f"友谊路{i}号"
        text = f"天津市河西区{loc} {name} {phone}"
        out.append((f"f{i}", text, label("天津", "天津", "河西区", loc, name, phone), "ok"))
    return out


def build(tmp_path, rows, **kw):
    raw, labels = frames(rows)
    params = kw.pop("params", small_params())
    return build_training_dataset(
        raw, labels, tmp_path / "ds", params, canonicalize=kw.pop("canonicalize", canon), **kw
    )


def kept_frame(result) -> pd.DataFrame:
    return pd.read_parquet(result.out_dir / "dataset.parquet")

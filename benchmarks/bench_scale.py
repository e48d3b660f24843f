"""The data half of the graph at the size the seeds talk about: rows/s and peak RSS per stage.

Registers two dataset versions of N rows each in a fresh home: a synthetic one, and a user
file (JSONL, `id` + `text`, no gold) of other synthetic texts. For each it materialises
`raw_addresses` -> `teacher_labels` (the offline gazetteer teacher, its process pool) ->
`training_dataset` with dg.materialize, one stage per child process, so each stage's peak RSS
is its own (the teacher's worker processes are reported beside it). A stage's time is the
materialisation only (imports and process start-up excluded); the teacher's includes starting
its pool.

    python benchmarks/bench_scale.py [--n 1000000]      (make bench-scale N=...)

Lines: one per stage and version, `whole` per version, then
`ratio=<x> whole_graph_rows_per_s file over synthetic`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runnable before `pip install -e`

STAGES = ("raw_addresses", "teacher_labels", "training_dataset")
TARGETS = {"teacher_labels": 7_000, "training_dataset": 100_000}  # rows/s (issue 13)


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _tree(root: int) -> list[int]:
    """`root` and every process below it (the teacher's workers, its forkserver)."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def _rss_and_cpu(pid: int) -> tuple[int, float]:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, cpu
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0, 0.0


class TreePeak:
    """Every 0.1 s on a thread: the RSS of this process and its descendants (the peak is
    kept), and each descendant's CPU time (its last reading is kept)."""

    def __init__(self) -> None:
        self.peak = 0
        self.child_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            total = 0
            for pid in _tree(me):
                rss, cpu = _rss_and_cpu(pid)
                total += rss
                if pid != me and cpu:
                    self.child_cpu[pid] = cpu
            self.peak = max(self.peak, total)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_stage(home: Path, key: str, stage: str) -> dict:
    """In this (child) process: materialise one stage of one version; its figures as a dict."""
    import dagster as dg

    from distill_assets.defs import assets
    from distill_assets.defs.resources import DistillSettings, TeacherResource

    if stage == "training_dataset":  # warm the gazetteer tables outside the timed region
        from distill_assets.core.regions.canonical import canonicalize_region

        canonicalize_region("", "", "大理市")
    asset = getattr(assets, stage)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("dataset_version", [key])
    settings = DistillSettings(profile="demo", home=str(home))
    before = rss_bytes()
    t0, cpu0 = time.perf_counter(), time.process_time()
    with TreePeak() as tree:
        result = dg.materialize(
            [asset],
            partition_key=key,
            instance=instance,
            resources={"settings": settings, "teacher": TeacherResource()},
        )
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if not result.success:
        raise SystemExit(f"{stage} of {key} failed")
    (mat,) = result.asset_materializations_for_node(stage)
    meta = {k: v.value for k, v in mat.metadata.items()}
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before": before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "tree_peak_rss": tree.peak,  # with the worker processes (sampled)
        "children_cpu_s": sum(tree.child_cpu.values()),
        "kept": meta.get("rows_kept"),
    }


def stage_in_child(home: Path, key: str, stage: str) -> dict:
    out = home / f".bench-{key}-{stage}.json"
    cmd = [sys.executable, __file__, "--stage", stage, "--key", key, "--home", str(home)]
    cmd += ["--out", str(out)]
    log = home / f".bench-{key}-{stage}.log"
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode:
        sys.stderr.write(log.read_text()[-4000:])
        raise SystemExit(f"{stage} of {key}: exit {proc.returncode} (log above)")
    return json.loads(out.read_text())


def register(home: Path, n: int) -> list[tuple[str, str]]:
    from distill_assets.core.data.dataset_versions import register_file, register_synthetic
    from distill_assets.core.data.synth import generate_batch

    t0 = time.perf_counter()
    syn = register_synthetic(home, n, seed=0, name=f"scale-syn-{n}")
    user = generate_batch(n, seed=1).loc[:, ["id", "text"]]
    user["id"] = "u" + user["id"].astype(str)
    path = home / "user-batch.jsonl"
    user.to_json(path, orient="records", lines=True, force_ascii=False)
    del user
    spec = register_file(home, path, name=f"scale-file-{n}")
    print(f"registered {syn.key} (synthetic) and {spec.key} (a {n}-row JSONL file) "
          f"in {time.perf_counter() - t0:.1f}s")  # fmt: skip
    return [(syn.key, "synthetic"), (spec.key, "file")]


def mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=int(os.environ.get("N", "1000000")))
    ap.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        args.out.write_text(json.dumps(run_stage(args.home, args.key, args.stage)))
        return

    n = args.n
    whole_rate: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        home = Path(tmp)
        versions = register(home, n)
        for key, kind in versions:
            total, peak = 0.0, 0
            for stage in STAGES:
                r = stage_in_child(home, key, stage)
                total += r["wall_s"]
                peak = max(peak, r["peak_rss"], r["tree_peak_rss"])
                target = TARGETS.get(stage)
                kept = f", kept {r['kept']}" if r["kept"] is not None else ""
                print(
                    f"{kind:9s} {stage:16s} {n / r['wall_s']:>10,.0f} rows/s  "
                    f"({r['wall_s']:.1f}s; cpu {r['cpu_s']:.1f}s in the step process"
                    + (f" + {r['children_cpu_s']:.1f}s in workers" if r["children_cpu_s"] else "")
                    + f", {n / (r['cpu_s'] + r['children_cpu_s']):,.0f} rows per cpu-s{kept})  "
                    f"peak rss {mib(r['peak_rss'])} (before {mib(r['rss_before'])})"
                    + (
                        f", with its workers {mib(r['tree_peak_rss'])}"
                        if r["tree_peak_rss"] > r["peak_rss"] * 1.05
                        else ""
                    )
                    + (f"  target {target:,} rows/s" if target else "")
                )
            whole_rate[kind] = n / total
            print(
                f"{kind:9s} {'whole':16s} {n / total:>10,.0f} rows/s  ({total:.1f}s)  "
                f"peak rss {mib(peak)}"
            )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus, n={n}")
    print(
        f"ratio={whole_rate['file'] / whole_rate['synthetic']:.2f} "
        "whole_graph_rows_per_s file over synthetic"
    )


if __name__ == "__main__":
    main()

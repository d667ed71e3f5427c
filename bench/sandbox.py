"""Benchmark of the code_interpreter sandbox (console/sandbox): cold start and per-call overhead.

    VAR_DIR=/tmp/sandbox-var .venv/bin/python bench/sandbox.py [--cold 20] [--warm 200]

Uses the runtime virtualenv that get_manager() would use (SANDBOX_PYTHON, else $VAR_DIR/sandbox-runtime)
and a throwaway SANDBOX_ROOT. Cold start = execute('1+1') on a new session key: bwrap + the kernel's
Python start-up + the call. Warm = execute('1+1') on a live session: all the per-call overhead (pipes,
framing, /mnt/data snapshots before and after), since the code itself takes microseconds.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from console.sandbox.service import SandboxManager, default_runtime_python  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={pct(ms, 50):.1f} ms p95={pct(ms, 95):.1f} ms "
        f"min={min(ms):.1f} ms max={max(ms):.1f} ms mean={statistics.fmean(ms):.1f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument("--warm", type=int, default=200)
    args = ap.parse_args()
    python = default_runtime_python()
    if not python.exists():
        print(f"no sandbox runtime at {python}: python -m console.sandbox.runtime", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        m = SandboxManager(pathlib.Path(tmp), python=python, uid_base=63500, max_sessions=4)
        try:
            t = time.perf_counter()
            m.prepare()
            print(f"prepare (runtime probe + one-time font cache): {(time.perf_counter() - t) * 1000:.0f} ms")

            cold = []
            for i in range(args.cold):
                key = f"bench-cold-{i}"
                t = time.perf_counter()
                r = m.execute(key, "1+1")
                cold.append(time.perf_counter() - t)
                assert r.logs == "2\n", r
                m.close_session(key)
            print("cold start  ", fmt(cold))

            key = "bench-warm"
            m.execute(key, "1+1")
            warm = []
            for _ in range(args.warm):
                t = time.perf_counter()
                r = m.execute(key, "1+1")
                warm.append(time.perf_counter() - t)
                assert r.logs == "2\n", r
            print("warm call   ", fmt(warm))

            extra = {
                "import numpy (first time in a session)": "import numpy",
                "import pandas (first time in a session)": "import pandas",
                "first matplotlib plot in a session": (
                    "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
                ),
            }
            for label, code in extra.items():
                samples = []
                for i in range(5):
                    k = f"bench-extra-{i}"
                    m.execute(k, "1+1")
                    t = time.perf_counter()
                    r = m.execute(k, code)
                    samples.append(time.perf_counter() - t)
                    assert r.error is None, r
                    m.close_session(k)
                print(f"{label}: {fmt(samples)}")
        finally:
            m.shutdown()
    print(f"host: {os.cpu_count()} cpus, python {sys.version.split()[0]}, runtime {python}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Rule evaluation over a synthetic 10,000-variant catalog, and `advisor fit` start-up.

Prints figures; asserts nothing. The baseline recompiles every expression for every
model, in the same process, so the ratio shows what compiled rules and cached per-model
contexts buy. Run with `make bench`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import cel

from knowledge.catalog import Catalog, Variant
from knowledge.db import make_engine
from knowledge.store import load_curated, read_catalog
from rules.engine import _REF, Engine, _specialise, cel_literal
from rules.packs import load_rules
from rules.requirements import Requirements

SIZE = 10_000
ROOT = Path(__file__).resolve().parent.parent


def synthetic(catalog: Catalog, size: int, seed: int = 7) -> Catalog:
    """``size`` variants cloned from the real ones with jittered sizes and contexts."""
    rng = random.Random(seed)
    real = list(catalog.variants.values())
    variants: dict[str, Variant] = {}
    for i in range(size):
        base = real[i % len(real)]
        data = base.model_dump()
        data["id"] = f"{base.id}-syn{i}"
        if data["params_b"]:
            data["params_b"] = round(data["params_b"] * rng.uniform(0.6, 1.6), 2)
        if data["context_length"]:
            data["context_length"] = rng.choice([2048, 4096, 8192, 32768, 131072])
        variants[data["id"]] = Variant(**data)
    return dc_replace(catalog, variants=variants, benchmarks={}, offerings={}, sources={})


class _Recompiling:
    """Baseline: a program that compiles its source on every execution."""

    def __init__(self, source: str) -> None:
        self.source = source

    def execute(self, context: Any) -> Any:
        return cel.compile(self.source).execute(context)


class BaselineEngine(Engine):
    """The same engine, but every rule is recompiled and run for every model (no sharing)."""

    def _applicable(self, activation: dict[str, Any]) -> list[tuple[Any, Any]]:
        chosen = []
        for rule, _program in super()._applicable(activation):
            values = json.loads(json.dumps({"req": activation, "params": rule.spec.params}))
            folded = _REF.sub(
                lambda m, v=values: cel_literal(v[m.group(1)].get(m.group(2))), rule.require.source
            )
            per_model = dc_replace(rule, require=dc_replace(rule.require, reads=None))
            chosen.append((per_model, _Recompiling(folded)))
        return chosen


def timed(fn: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_rules() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        load_curated(engine)
        real = read_catalog(engine)
    catalog = synthetic(real, SIZE)
    rules = load_rules()
    scenarios = {
        "license+capability (no hardware)": Requirements(
            commercial=True, context=16384, capabilities=["code"], mau=1_000_000
        ),
        "with hardware (1x RTX 4090)": Requirements(commercial=True, gpu="RTX 4090", context=16384),
        "8x H100, Chinese support": Requirements(
            commercial=True, gpu="H100 SXM", gpu_count=8, languages=["zh"], tasks=["support"]
        ),
    }
    print(f"catalog: {len(catalog.variants)} synthetic variants, {len(rules.rules)} rules")
    for label, req in scenarios.items():
        fast = Engine(catalog, rules)
        cold = timed(lambda e=fast, r=req: e.evaluate(r), 1)[0]
        warm = statistics.median(timed(lambda e=fast, r=req: e.evaluate(r), 5))
        rank = statistics.median(timed(lambda e=fast, r=req: e.evaluate(r, explain=False), 5))
        _specialise.cache_clear()
        slow = BaselineEngine(catalog, rules)
        slow.evaluate(req)  # build the same per-model contexts, so only compilation differs
        base = statistics.median(timed(lambda e=slow, r=req: e.evaluate(r), 3))
        other = Requirements(**{**req.model_dump(exclude_defaults=True), "context": 12288})
        fresh = statistics.median(timed(lambda e=fast, r=other: e.evaluate(r, explain=False), 3))
        print(
            f"{label}: cold {cold:.0f} ms (builds per-model contexts), warm {warm:.0f} ms "
            f"with every reason rendered, {rank:.0f} ms ranking only "
            f"(target < 100 ms: {'met' if rank < 100 else 'missed'}), {fresh:.0f} ms ranking a "
            f"new question; baseline recompiling {base:.0f} ms; ratio {base / rank:.1f}x"
        )
    bench_concurrent(catalog, rules, list(scenarios.values()))


def bench_concurrent(catalog: Catalog, rules: Any, questions: list[Requirements]) -> None:
    """The same questions from 8 threads at once: time, and whether answers match."""
    from concurrent.futures import ThreadPoolExecutor

    engine = Engine(catalog, rules)
    alone = [engine.evaluate(q, explain=False) for q in questions]
    batch = questions * 8
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda q: engine.evaluate(q, explain=False), batch))
    elapsed = (time.perf_counter() - start) * 1000
    same = all(
        [(v.model, v.status, v.score, v.fit) for v in a]
        == [(v.model, v.status, v.score, v.fit) for v in b]
        for a, b in zip(alone * 8, together, strict=True)
    )
    print(
        f"concurrent: {len(batch)} questions from 8 threads in {elapsed:.0f} ms "
        f"({elapsed / len(batch):.0f} ms each); identical to sequential: {same}"
    )


def bench_startup() -> None:
    advisor = ROOT / ".venv" / "bin" / "advisor"
    env = {**os.environ, "ADVISOR_DATA_DIR": tempfile.mkdtemp()}
    subprocess.run([str(advisor), "catalog", "load"], env=env, check=True, capture_output=True)
    cmd = [str(advisor), "fit", "llama3.1:8b", "--gpu", "RTX 4090", "--json"]
    times = timed(lambda: subprocess.run(cmd, env=env, check=True, capture_output=True), 5)
    probe = (
        "import sys, bot.cli, rules.advice; "
        "heavy = ('torch', 'chromadb', 'sentence_transformers'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    heavy = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    print(
        f"`advisor fit` whole process: median {statistics.median(times):.0f} ms, "
        f"min {min(times):.0f} ms over 5 runs; heavy modules imported: {heavy.stdout.strip()}"
    )


if __name__ == "__main__":
    bench_rules()
    bench_startup()

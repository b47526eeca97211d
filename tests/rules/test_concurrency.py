"""One engine answering many questions at once gives each the same verdicts as alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from knowledge.catalog import Catalog
from rules.engine import Engine, Verdict
from rules.packs import load_rules
from rules.requirements import Requirements

HARDWARE: list[dict[str, object]] = [
    {"gpu": "RTX 4090"},
    {"gpu": "m1-max-64gb"},
    {"gpu": "H100 SXM", "gpu_count": 8},
    {"vram_gib": 12, "ram_gib": 64},
    {"cpu_only": True, "ram_gib": 64},
    {"gpu": "A100 80GB", "gpu_count": 2, "context": 32768},
    {"gpu": "H200", "gpu_count": 8, "precision": "fp8"},
    {"vram_gib": 16, "batch": True},
]
EXTRAS: list[dict[str, object]] = [
    {},
    {"commercial": True},
    {"capabilities": ["code"]},
    {"languages": ["zh"], "tasks": ["customer service"]},
    {"tasks": ["math"], "mau": 1_000_000},
]
QUESTIONS = [Requirements(**{**h, **e}) for h in HARDWARE for e in EXTRAS]  # type: ignore[arg-type]


def _digest(verdicts: list[Verdict]) -> list[tuple[object, ...]]:
    return [
        (
            v.model,
            v.status,
            v.score,
            tuple(r.rule for r in v.reasons),
            v.fit.model_dump() if v.fit else None,
        )
        for v in verdicts
    ]


def test_forty_questions_from_eight_threads_match_sequential_answers(catalog: Catalog) -> None:
    assert len(QUESTIONS) == 40
    sequential = [
        _digest(Engine(catalog, load_rules()).evaluate(q, explain=False)) for q in QUESTIONS
    ]
    engine = Engine(catalog, load_rules())  # cold: threads build facts, fits and runs at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda q: _digest(engine.evaluate(q, explain=False)), QUESTIONS))
    differing = [i for i, (a, b) in enumerate(zip(sequential, concurrent, strict=True)) if a != b]
    assert not differing, f"questions {differing} got another question's verdicts"
    # the questions really differ, so a mix-up would show
    assert len({str(s[:3]) for s in sequential}) > 20

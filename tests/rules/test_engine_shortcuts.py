"""The engine's shortcuts (shared runs, the ranking prefilter, kept fits) change no answer."""

from __future__ import annotations

import pytest

from knowledge.catalog import Catalog
from rules import engine as engine_module
from rules.engine import Engine, Status
from rules.expressions import compile_expression
from rules.packs import HELPERS, MODEL_FIELDS, load_rules
from rules.requirements import Requirements

QUESTIONS = [
    Requirements(commercial=True, context=16384, capabilities=["code"], mau=1_000_000),
    Requirements(commercial=True, gpu="RTX 4090", context=16384),
    Requirements(gpu="H100 SXM", gpu_count=8, languages=["zh"], tasks=["support"]),
    Requirements(vram_gib=12, ram_gib=64, licenses_denied=["noncommercial"]),
    Requirements(gpu="RTX 4090", requests_per_day=5000, monthly_budget=300),
    Requirements(deployment="api", max_output_price=2.0, capabilities=["vision"]),
    Requirements(mau=1_000_000_000, licenses_denied=["copyleft"]),
]


@pytest.mark.parametrize("req", QUESTIONS, ids=lambda r: ",".join(r.described()) or "any")
def test_ranking_decides_every_model_as_the_full_evaluation_does(
    catalog: Catalog, req: Requirements
) -> None:
    # The reference judges each model on its own, so it shares no run with another model.
    alone = Engine(catalog, load_rules())
    full = {v.id: alone.evaluate(req, [v])[0] for v in catalog.variants.values()}
    ranked = Engine(catalog, load_rules()).evaluate(req, explain=False)
    assert {v.model: v.status for v in ranked} == {m: v.status for m, v in full.items()}
    allowed = [v for v in ranked if v.status != Status.reject]
    assert allowed, "the question should leave some models in"
    for v in allowed:  # the models a recommendation can show: same fit, same score
        assert (v.score, v.fit) == (full[v.model].score, full[v.model].fit), v.model
    assert [v.model for v in allowed] == [
        v.model
        for v in sorted(full.values(), key=lambda x: (-x.score, x.model))
        if v.status != Status.reject
    ]


def test_models_that_share_a_run_still_get_sentences_naming_themselves(catalog: Catalog) -> None:
    req = Requirements(context=200_000)
    verdicts = Engine(catalog, load_rules()).evaluate(req)
    short = [v for v in verdicts if any(r.rule == "capability.context" for r in v.reasons)]
    assert len(short) > 10  # many models share one context length, so one run decides them
    for v in short:
        message = next(r.message for r in v.reasons if r.rule == "capability.context")
        assert message.startswith(v.name), message


def test_a_second_question_on_the_same_gpus_reuses_fits_and_a_new_context_does_not(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = engine_module.best_fit

    def counting(*args: object, **kwargs: object) -> object:
        calls.append("fit")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "best_fit", counting)
    engine = Engine(catalog, load_rules())
    first = engine.evaluate(Requirements(gpu="RTX 4090"), explain=False)
    sized = len(calls)
    assert sized > 50
    again = engine.evaluate(Requirements(gpu="RTX 4090", languages=["zh"]), explain=False)
    assert len(calls) == sized  # same hardware and context: every fit was kept
    assert {v.model: v.fit for v in first} == {v.model: v.fit for v in again}
    engine.evaluate(Requirements(gpu="RTX 4090", context=32768), explain=False)
    assert len(calls) > sized


def test_a_model_whose_facts_changed_is_sized_afresh(catalog: Catalog) -> None:
    engine = Engine(catalog, load_rules())
    req = Requirements(gpu="RTX 4090")
    model = catalog.variants["llama3.1-8b"]
    before = engine.evaluate(req, [model])[0].fit
    bigger = model.model_copy(update={"params_b": model.params_b * 4})
    after = engine.evaluate(req, [bigger])[0].fit
    assert after != before
    assert after == Engine(catalog, load_rules()).evaluate(req, [bigger])[0].fit


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("model.context_length >= 8192.0", ("model.context_length",)),
        (
            'license.commercial != "no" && model.open_weights',
            ("license.commercial", "model.open_weights"),
        ),
        ("!model.open_weights || fits()", None),  # a helper reads the fit: per model
        ('"code" in model.capabilities.filter(c, c != "")', ("model.capabilities",)),
        ("size(model) > 0", None),  # the whole variable is used
        ("[1.0].exists(model, model > 0.0)", None),  # a macro variable shadows it
    ],
)
def test_an_expression_lists_the_facts_it_reads_only_when_that_is_certain(
    source: str, reads: tuple[str, ...] | None
) -> None:
    fields = {"model": MODEL_FIELDS, "license": None, "price": None, "req": None, "params": None}
    assert compile_expression(source, fields, HELPERS).reads == reads

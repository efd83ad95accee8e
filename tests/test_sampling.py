"""The sampler end to end on CPU with the embedded SmolLM2, the vLLM guard, and the resumable
baseline runner (with a fake sampler)."""

import json
import sys

import pytest

from delta_core.experiments.baseline import analyse, load_samples, run_baseline, select_problems
from delta_core.sampling import (
    BackendUnavailableError,
    Generation,
    ProblemResult,
    Sampler,
    SamplingConfig,
    judge_generations,
    make_sampler,
    problem_meta,
    problem_prompt,
    sample_problems,
)
from delta_core.tasks import generate

GPU_MODULES = ("vllm", "unsloth")


@pytest.fixture(scope="module")
def problems():
    return generate("starts_with", "basic", "two_color", 2, seed=0)


@pytest.fixture(scope="module")
def sampler():
    return make_sampler("transformers")  # the embedded SmolLM2


def test_config_validation():
    with pytest.raises(ValueError):
        SamplingConfig(n_samples=0)
    with pytest.raises(ValueError):
        SamplingConfig(top_p=0)


def test_cpu_sampling_end_to_end_is_reproducible_and_never_imports_vllm(sampler, problems):
    config = SamplingConfig(n_samples=3, max_new_tokens=8, seed=123, batch_size=2)
    first = sample_problems(problems[:1], sampler, config, keep_text=None, progress=False)
    again = sample_problems(problems[:1], sampler, config, keep_text=None, progress=False)
    (result,) = first
    assert (
        isinstance(result, ProblemResult) and result.id == problems[0].id and result.family == "starts_with"
    )
    assert result.n == 3
    for s in result.samples:
        assert 0.0 <= s.pass_rate <= 1.0 and s.all_pass in (0.0, 1.0)
        assert 1 <= s.n_tokens <= 8 and isinstance(s.text, str) and isinstance(s.program, str)
    assert [s.text for s in result.samples] == [s.text for s in again[0].samples]  # same seed, same text
    other = sample_problems(
        problems[:1],
        sampler,
        SamplingConfig(3, max_new_tokens=8, seed=7, batch_size=2),
        keep_text=None,
        progress=False,
    )
    assert [s.text for s in other[0].samples] != [s.text for s in result.samples]
    for name in GPU_MODULES:
        assert name not in sys.modules, f"the CPU path imported {name}"
    stats = sampler.describe()
    assert (
        stats["backend"] == "transformers"
        and stats["generated_tokens"] > 0
        and stats["tokens_per_second"] > 0
    )


def test_batches_resume_to_the_same_samples(sampler, problems):
    """Samples 2-3 drawn alone (first_index=2) equal samples 2-3 of an uninterrupted draw."""
    config = SamplingConfig(n_samples=4, max_new_tokens=6, seed=1, batch_size=2)
    prompt = problem_prompt(problems[1])
    (whole,) = sampler.generate([prompt], 4, config)
    (tail,) = sampler.generate([prompt], 2, config, first_index=2)
    assert [g.text for g in whole[2:]] == [g.text for g in tail]


def test_greedy_and_keep_text(sampler, problems):
    # temperature 0 is greedy decoding: every sample of a problem is the same text, whatever the seed
    config = SamplingConfig(n_samples=3, max_new_tokens=5, temperature=0.0, batch_size=2, seed=0)
    (result,) = sample_problems(problems[:1], sampler, config, keep_text=None, progress=False)
    texts = [s.text for s in result.samples]
    assert len(texts) == 3 and texts[0] and texts == [texts[0]] * 3
    other_seed = SamplingConfig(n_samples=3, max_new_tokens=5, temperature=0.0, batch_size=2, seed=99)
    (again,) = sample_problems(problems[:1], sampler, other_seed, keep_text=None, progress=False)
    assert [s.text for s in again.samples] == texts
    # keep_text=0 keeps no text
    (result,) = sample_problems(problems[:1], sampler, config, keep_text=0, progress=False)
    assert all(s.text is None for s in result.samples)


def test_vllm_backend_without_vllm_or_gpu_is_a_clear_error():
    with pytest.raises(BackendUnavailableError, match="backend='transformers'"):
        make_sampler("vllm")
    with pytest.raises(ValueError, match="backend"):
        make_sampler("llama.cpp")
    for name in GPU_MODULES:
        assert name not in sys.modules


def test_judging_a_correct_completion(problems):
    problem = problems[0]
    text = f"Here is my factory:\n```manufactoria\n{problem.solution}\n```"
    good, bad = judge_generations(
        [Generation(text, 10, True), Generation("no idea", 2, True)], problem.tests(), None
    )
    assert (good.pass_rate, good.all_pass) == (1.0, 1.0) and good.program == problem.solution.strip()
    assert (bad.pass_rate, bad.all_pass) == (0.0, 0.0) and bad.text == "no idea"
    # an HF record gives the same identity, tests and prompt as the Problem
    record = problem.to_hf_record()
    assert problem_meta(record)[1] == problem_meta(problem)[1]
    assert problem_prompt(record) == problem_prompt(problem)


class FakeSampler(Sampler):
    """Answers with the problem's solution for even sample indices, nonsense for odd ones."""

    backend = "fake"

    def __init__(self, solutions):
        self.solutions = solutions
        self.calls = 0

    def generate(self, prompts, n, config, first_index=0):
        self.calls += 1
        out = []
        for p in prompts:
            sol = self.solutions[p]
            out.append(
                [
                    Generation(f"```\n{sol}\n```" if (first_index + i) % 2 == 0 else "hmm", 3, True)
                    for i in range(n)
                ]
            )
        return out


def test_resumable_baseline_run(tmp_path):
    probs = select_problems(["starts_with", "ends_with"], per_level=1)
    assert [p.family for p in probs] == ["starts_with", "ends_with", "ends_with"]  # ends_with: two levels
    fake = FakeSampler({problem_prompt(p): p.solution for p in probs})
    config = SamplingConfig(n_samples=4, batch_size=2)
    stats = run_baseline(tmp_path, probs, fake, config, progress=False)
    assert stats["batches_done_now"] == 6 and fake.calls == 6
    path = tmp_path / "samples.jsonl"
    full = path.read_text()
    # Simulate a SIGKILL mid-write: drop the last record and leave a torn line behind.
    lines = full.splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:20])
    stats = run_baseline(tmp_path, probs, fake, config, progress=False)
    assert stats["batches_done_now"] == 1 and fake.calls == 7
    results = load_samples(tmp_path)
    assert [r.n for r in results] == [4, 4, 4] and all(r.n_correct == 2 for r in results)
    summary = analyse(tmp_path)
    assert summary["K"] == 4 and summary["hard_total"] == 0
    overall = {r["k"]: r["pass_at_k"] for r in summary["pass_at_k_overall"]}
    assert overall[1] == pytest.approx(0.5) and overall[4] == 1.0
    assert (tmp_path / "hard_subset.jsonl").read_text() == ""
    json.loads((tmp_path / "summary.json").read_text())


# ---------------------------------------------------------------- one sampling path, training's settings


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from delta_core.mini import MiniConfig, save_mini
    from delta_core.models import load_model

    path = save_mini(tmp_path_factory.mktemp("tiny") / "m",
                     MiniConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    return load_model(str(path))


def test_evaluation_samples_with_the_rollouts_settings(tiny, monkeypatch):
    """Every argument that shapes sampling reaches `model.generate` from the training config: in particular
    top_k=0 (TRL's rollouts), not transformers' default of 50 that the old evaluation fell back to."""
    from delta_core.sampling import generate_completions
    from delta_core.train import load_config

    config = load_config(None, {"preset": "cpu_tiny", "model": "x", "temperature": 0.7, "top_p": 0.9,
                                "max_completion_length": 5})
    seen = []
    real = tiny.model.generate

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(tiny.model, "generate", spy)
    out = generate_completions(tiny.model, tiny.tokenizer, ["a", "b", "c"], 2, config.sampling(2), seed=3)
    assert [len(g) for g in out] == [2, 2, 2] and seen
    for kwargs in seen:
        assert kwargs["do_sample"] is True and kwargs["top_k"] == 0
        assert kwargs["temperature"] == 0.7 and kwargs["top_p"] == 0.9 and kwargs["max_new_tokens"] == 5


def test_generate_completions_is_reproducible_and_leaves_the_callers_rng(tiny):
    import torch

    from delta_core.sampling import generate_completions

    config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=6, batch_size=4)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = generate_completions(tiny.model, tiny.tokenizer, ["a", "b"], 3, config, seed=5)
    assert torch.equal(torch.rand(1), before)  # the caller's stream is as if nothing had been drawn
    again = generate_completions(tiny.model, tiny.tokenizer, ["a", "b"], 3, config, seed=5)
    assert [[g.text for g in gens] for gens in first] == [[g.text for g in gens] for gens in again]
    # one prompt at a time (n >= batch_size) takes the shared-prefix path and is reproducible too
    solo = generate_completions(tiny.model, tiny.tokenizer, ["a"], 6, config, seed=5)
    assert len(solo[0]) == 6 and solo == generate_completions(tiny.model, tiny.tokenizer, ["a"], 6, config, seed=5)
    tiny.model.train()
    generate_completions(tiny.model, tiny.tokenizer, ["a"], 1, config, seed=5)
    assert tiny.model.training is True  # sampled in eval mode, then put back as it was


def test_the_static_cache_draws_the_same_samples_as_the_default_one(tiny, monkeypatch):
    """DELTA-mini decodes with a preallocated KV cache (`cache="static"`, for speed on the CPU); left-padded
    prompts of different lengths, sampled with one seed, give the same tokens as with the default cache."""
    import delta_core.sampling as S

    config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=12, batch_size=8)
    prompts = ["a", "accept if the tape ends with RB", "b c d"]
    seen = []
    real = tiny.model.generate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("cache_implementation"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tiny.model, "generate", spy)
    static = S.generate_completions(tiny.model, tiny.tokenizer, prompts, 2, config, seed=11, cache="static")
    assert seen and set(seen) == {"static"}
    seen.clear()
    default = S.generate_completions(tiny.model, tiny.tokenizer, prompts, 2, config, seed=11)
    assert seen and set(seen) == {None}  # transformers' default cache
    assert all(g.token_ids for gens in static for g in gens)
    assert [[g.token_ids for g in gens] for gens in static] == [[g.token_ids for g in gens] for gens in default]


def test_an_unknown_kv_cache_is_a_clear_error(tiny):
    from delta_core.sampling import generate_completions

    with pytest.raises(ValueError, match="cache='dynamic2'"):
        generate_completions(tiny.model, tiny.tokenizer, ["a"], 1, SamplingConfig(max_new_tokens=2), cache="dynamic2")


def test_score_samples_counts_a_full_pass_only_when_every_test_passes():
    from delta_core.sampling import score_samples

    tests = [{"input": "R", "expected_accepted": True, "check_output": False},
             {"input": "B", "expected_accepted": False, "check_output": False}]
    accept_all = "START start:\n    NEXT end\nEND end"
    only_r = "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\nEND end"
    rows = [{"id": "x", "ground_truth": tests}]
    scored = score_samples(rows, [[accept_all, only_r, "garbage"]], k=2)
    (problem,) = scored["per_problem"]
    assert problem["n"] == 3 and problem["c"] == 1  # only `only_r` passes both tests
    assert problem["dense_mean"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert scored["pass@1"] == pytest.approx(1 / 3) and scored["pass@2"] == pytest.approx(2 / 3)

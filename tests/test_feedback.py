"""delta_core.train.feedback: the judge's feedback text, the feedback rollout (scripted, then in a real
tiny GRPO run on CPU), the mask that keeps the feedback tokens out of the loss, and the logged metrics.

The real run reuses test_train's tiny model and run settings. So that failed programs that *ended*
(the only ones that get feedback) occur at every step, the model is first taught, by a few SFT steps,
to answer every prompt with the accept-all program, which fails the starts_with tests.
"""

import doctest
from collections import defaultdict
from types import SimpleNamespace

import pytest

import trl  # noqa: F401  (the cpu extra; a missing trl is an install error, as in test_train)

from delta_core import train as T
from delta_core.artifacts import read_jsonl
from delta_core.judge import judge
from delta_core.mini import build_tokenizer, compact_prompt
from delta_core.rewards import make_reward
from delta_core.train import feedback as F

from test_train import ACCEPT_ALL, TESTS, cfg, tiny_model  # noqa: F401  (tiny_model: the fixture)

ACCEPT_R = "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\nEND end"  # passes TESTS (accepts R, rejects B)
ACCEPT_ALL_FEEDBACK = (  # ACCEPT_ALL on TESTS, written out by hand
    "\n\nThe program does not meet the criteria for 1 of 2 tapes:\n"
    '- input "B": should reject, the program accepts\n'
    "Write a program that meets the criteria.\n"
)


# ---------------------------------------------------------------- the feedback text


def test_feedback_names_the_failing_tests_as_the_judge_reports_them():
    tests = [
        {"input": "R", "expected_output": "RB", "check_output": True},  # accepted, but the output is ""
        {"input": "B", "expected_accepted": False, "check_output": False},  # rejected, as it should be: passes
        {"input": "", "expected_output": "B", "check_output": True, "description": "Input '' should output 'B'"},
    ]
    assert F.feedback_text(judge(ACCEPT_R, tests)) == (
        "\n\nThe program does not meet the criteria for 2 of 3 tapes:\n"
        '- input "R": should accept with output "RB", the program accepts with output ""\n'
        "- input \"\" (Input '' should output 'B'): "
        'should accept with output "B", the program rejects (Routed to NONE)\n'
        "Write a program that meets the criteria.\n"
    )
    # a long list is cut: the first failure, then how many more
    assert F.feedback_text(judge(ACCEPT_R, tests), max_failures=1) == (
        "\n\nThe program does not meet the criteria for 2 of 3 tapes:\n"
        '- input "R": should accept with output "RB", the program accepts with output ""\n'
        "- and 1 more\n"
        "Write a program that meets the criteria.\n"
    )
    assert F.feedback_text(judge(ACCEPT_ALL, TESTS)) == ACCEPT_ALL_FEEDBACK


def test_a_program_that_does_not_parse_hears_the_parse_error_and_a_passing_one_hears_nothing():
    assert F.feedback_text(judge("START start:\n    NEXT q\nEND end", TESTS)) == (
        "\n\nDSL Parse Error: Line 1: Node 'start' references undefined node 'q'\n"
        "Write a program that meets the criteria.\n"
    )
    assert F.feedback_text(judge(ACCEPT_R, TESTS)) is None


def test_the_tiny_model_reads_our_words_of_the_feedback():
    # Every token of ACCEPT_ALL's feedback is known to the tiny model's tokenizer: no <unk>.
    tokenizer = build_tokenizer()
    ids = tokenizer(ACCEPT_ALL_FEEDBACK, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and tokenizer.decode(ids) == ACCEPT_ALL_FEEDBACK


def test_doctests():
    assert doctest.testmod(F).failed == 0


# ---------------------------------------------------------------- the rollout, scripted


class ScriptedRollout(F.FeedbackRollout):
    """The rollout with `sample` replaced by a script: each call returns the next list of turns."""

    def __init__(self, config, turns):
        super().__init__(config)
        self.turns, self.asked = list(turns), []

    def sample(self, trainer, sequences):
        self.asked.append([list(s) for s in sequences])
        return self.turns.pop(0)


def _fake_trainer(tokenizer, rows):
    metrics = defaultdict(lambda: defaultdict(list))
    return SimpleNamespace(processing_class=tokenizer, eos_token_ids=[tokenizer.eos_token_id], rollout_inputs=rows,
                           _metrics=metrics, model=SimpleNamespace(training=True))


def test_only_a_failed_program_that_ended_gets_feedback_and_the_feedback_is_masked():
    tokenizer = build_tokenizer()
    eos = tokenizer.eos_token_id

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    prompts = [[{"role": "user", "content": compact_prompt("Accept if the tape starts with R.")}]] * 3
    rows = [{"prompt": p, "ground_truth": TESTS} for p in prompts]
    first = [ids(ACCEPT_R) + [eos], ids(ACCEPT_ALL) + [eos], ids(ACCEPT_ALL)]  # passes; fails; fails but was cut
    second = [ids(ACCEPT_R) + [eos]]  # the failed one, after the feedback, writes the right program
    rollout = ScriptedRollout(cfg(feedback_max_iterations=1), [first, second])
    trainer = _fake_trainer(tokenizer, rows)

    out = rollout(prompts, trainer)

    prompt_ids = tokenizer.apply_chat_template(prompts, add_generation_prompt=True, tokenize=True,
                                               return_dict=True)["input_ids"]
    fed = ids(ACCEPT_ALL_FEEDBACK)
    assert out["prompt_ids"] == prompt_ids and out["logprobs"] is None
    # only completion 1 was continued: its end-of-turn token replaced by the feedback
    assert rollout.asked == [prompt_ids, [prompt_ids[1] + ids(ACCEPT_ALL) + fed]]
    assert out["completion_ids"] == [first[0], ids(ACCEPT_ALL) + fed + second[0], first[2]]
    assert out["env_mask"] == [
        [1] * len(first[0]),  # a passing completion: no feedback, every token the model's
        [1] * len(ids(ACCEPT_ALL)) + [0] * len(fed) + [1] * len(second[0]),  # the feedback's tokens are 0
        [1] * len(first[2]),  # cut at the length limit: it never ended, so it hears nothing
    ]
    assert out["final_turn"] == [ACCEPT_R, ACCEPT_R, ACCEPT_ALL]  # what the reward judges
    metrics = trainer._metrics["train"]
    assert metrics["feedback_samples"] == [1.0] and metrics["feedback_fixed"] == [1.0]
    assert metrics["feedback_ignored"] == [0.0] and metrics["feedback_valid"] == [1.0]


def test_a_model_that_ignores_the_feedback_is_counted_and_rounds_stop_at_the_limit():
    tokenizer = build_tokenizer()
    eos = tokenizer.eos_token_id
    wrong = tokenizer(ACCEPT_ALL, add_special_tokens=False)["input_ids"] + [eos]
    prompts = [[{"role": "user", "content": "Write a Manufactoria DSL program."}]] * 2
    rows = [{"prompt": p, "ground_truth": TESTS} for p in prompts]
    # two rounds allowed: both completions fail, hear the judge, write the same program again, twice
    rollout = ScriptedRollout(cfg(feedback_max_iterations=2), [[wrong, wrong], [wrong, wrong], [wrong, wrong]])
    trainer = _fake_trainer(tokenizer, rows)
    out = rollout(prompts, trainer)
    assert len(rollout.asked) == 3 and rollout.turns == []  # a first sample, then exactly two rounds
    fed = tokenizer(ACCEPT_ALL_FEEDBACK, add_special_tokens=False)["input_ids"]
    assert out["completion_ids"][0] == wrong[:-1] + fed + wrong[:-1] + fed + wrong
    metrics = trainer._metrics["train"]
    assert metrics["feedback_samples"] == [2.0] and metrics["feedback_fixed"] == [0.0]
    assert metrics["feedback_ignored"] == [1.0] and metrics["feedback_valid"] == [1.0]
    # nobody failed: no feedback, and the two shares are absent (null in metrics.jsonl), not 0
    right = tokenizer(ACCEPT_R, add_special_tokens=False)["input_ids"] + [eos]
    trainer = _fake_trainer(tokenizer, rows)
    out = ScriptedRollout(cfg(feedback_max_iterations=1), [[right, right]])(prompts, trainer)
    assert out["completion_ids"] == [right, right] and out["env_mask"] == [[1] * len(right)] * 2
    assert trainer._metrics["train"]["feedback_samples"] == [0.0]
    assert "feedback_fixed" not in trainer._metrics["train"] and "feedback_ignored" not in trainer._metrics["train"]


def test_a_second_turn_that_is_no_program_is_neither_fixed_nor_ignored_but_invalid():
    # what DELTA-mini's base writes after feedback it has never seen: fragments of programs that do not parse
    tokenizer = build_tokenizer()
    eos = tokenizer.eos_token_id
    wrong = tokenizer(ACCEPT_ALL, add_special_tokens=False)["input_ids"] + [eos]
    garbage = tokenizer("PULLER_RB q2:\n    [R] q2\nEND", add_special_tokens=False)["input_ids"] + [eos]
    prompts = [[{"role": "user", "content": "Write a Manufactoria DSL program."}]] * 2
    rows = [{"prompt": p, "ground_truth": TESTS} for p in prompts]
    trainer = _fake_trainer(tokenizer, rows)
    ScriptedRollout(cfg(feedback_max_iterations=1), [[wrong, wrong], [garbage, wrong]])(prompts, trainer)
    metrics = trainer._metrics["train"]
    assert metrics["feedback_samples"] == [2.0] and metrics["feedback_fixed"] == [0.0]
    assert metrics["feedback_ignored"] == [0.5] and metrics["feedback_valid"] == [0.5]


def test_the_reward_judges_the_final_turn_only():
    reward = make_reward("binary")
    whole = ACCEPT_ALL + ACCEPT_ALL_FEEDBACK + ACCEPT_R  # unfenced: the whole text would not parse
    scored = F.score_final_turn(reward)
    assert scored.__name__ == "binary_reward"  # TRL logs it under the reward's own name
    assert reward([whole], [TESTS]) == [0.0]
    assert scored([whole], ground_truth=[TESTS], final_turn=[ACCEPT_R]) == [1.0]
    assert scored([ACCEPT_R], ground_truth=[TESTS]) == [1.0]  # no rollout field: the completion itself


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    "overrides, rule",
    [
        ({"feedback_max_iterations": -1}, "must be >= 0"),
        ({"feedback_max_iterations": 1, "backend": "unsloth", "lora_rank": 8}, "cpu and cuda back-ends only"),
        ({"feedback_max_iterations": 1, "replay": True}, "replay=true"),
    ],
)
def test_bad_feedback_configs_name_the_field(overrides, rule):
    with pytest.raises(T.ConfigError, match=f"feedback_max_iterations=.*{rule}"):
        cfg(**overrides)
    assert cfg().feedback_max_iterations == 0  # off by default


def test_feedback_with_another_domains_scorer_is_refused_before_loading(tmp_path):
    import datasets

    rows = [{"prompt": [{"role": "user", "content": "x"}], "ground_truth": "[]"} for _ in range(4)]
    config = cfg(model=str(tmp_path / "no-model"), dataset="rows", family=None, level=None, eval_steps=0,
                 output_dir=str(tmp_path / "out"), feedback_max_iterations=1)
    with pytest.raises(T.ConfigError, match="feedback_max_iterations=1: .*scorer"):
        T.train(config, datasets=(datasets.Dataset.from_list(rows), None), scorer=lambda c, g: ([0.0], [0.0]))


# ---------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def accept_all_model(tiny_model, tmp_path_factory):
    """test_train's tiny model after a few SFT steps answering every starts_with prompt with ACCEPT_ALL."""
    from delta_core.mini import warm_start
    from delta_core.tasks import generate

    problems = [SimpleNamespace(criteria=p.criteria, solution=ACCEPT_ALL)
                for p in generate("starts_with", "basic", "two_color")]
    # 30 steps at a high rate: enough for a 0.3M model to copy one short program and end its turn
    return str(warm_start(tiny_model, tmp_path_factory.mktemp("sft") / "model", problems, max_steps=30,
                          learning_rate=1e-2))


@pytest.fixture(scope="module")
def feedback_run(accept_all_model, tmp_path_factory):
    """Two GRPO steps with one feedback round; every batch TRL hands to its loss is kept."""
    from trl import GRPOTrainer

    losses = []
    compute_loss = GRPOTrainer._compute_loss

    def keep(self, model, inputs):
        losses.append({k: v.clone() for k, v in inputs.items() if hasattr(v, "clone")})
        return compute_loss(self, model, inputs)

    out = tmp_path_factory.mktemp("feedback") / "run"
    config = cfg(model=accept_all_model, output_dir=str(out), max_steps=2, eval_steps=0, save_steps=10,
                 feedback_max_iterations=1, seed=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GRPOTrainer, "_compute_loss", keep)
        summary = T.train(config)
    tokenizer = summary["trainer"].processing_class
    records = [r for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"]
    rows, _ = T.build_datasets(config)
    tests = {tuple(tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"]): row["ground_truth"] for row in rows}
    return SimpleNamespace(losses=losses, records=records, tokenizer=tokenizer, tests=tests)


def test_feedback_tokens_are_masked_out_of_the_loss(feedback_run):
    from delta_core.rewards import extract_program

    tokenizer, eos = feedback_run.tokenizer, feedback_run.tokenizer.eos_token_id
    masked_rows = 0
    for batch in feedback_run.losses:
        assert "tool_mask" in batch  # TRL's loss mask is completion_mask * tool_mask
        for prompt, prompt_mask, ids, completion_mask, tool_mask in zip(
                batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"], batch["completion_mask"],
                batch["tool_mask"]):
            n = int(completion_mask.sum())
            mask, tokens = tool_mask[:n].tolist(), ids[:n].tolist()
            if all(mask):
                continue
            masked_rows += 1
            # one block of 0s, between the first program (its end-of-turn token gone) and the second turn
            start, end = mask.index(0), n - mask[::-1].index(0)
            assert set(mask[start:end]) == {0} and 0 < start and end < n and eos not in tokens[:start]
            # ... and that block is exactly the judge's feedback on the first program, for this row's tests
            tests = feedback_run.tests[tuple(prompt[prompt_mask.bool()].tolist())]
            first_program = extract_program(tokenizer.decode(tokens[:start], skip_special_tokens=True))
            expected = F.feedback_text(judge(first_program, tests))
            assert tokens[start:end] == tokenizer(expected, add_special_tokens=False)["input_ids"]
    assert masked_rows > 0, "no completion got feedback: the test saw no mask"


def test_a_two_step_run_logs_the_feedback_metrics(feedback_run):
    records = feedback_run.records
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        assert r["feedback_samples"] >= 1  # the accept-all model fails the starts_with tests, and ends its turn
        assert 0.0 <= r["feedback_fixed"] <= 1.0 and 0.0 <= r["feedback_ignored"] <= 1.0
    assert sum(r["feedback_samples"] for r in records) == sum(
        int((b["tool_mask"] * b["completion_mask"] == 0).logical_and(b["completion_mask"] == 1).any(dim=1).sum())
        for b in feedback_run.losses
    )  # what was logged is what TRL trained on


def test_probe_feedback_counts_what_the_second_turn_did(monkeypatch):
    """The chapter's probe of feedback outside training: first turns, feedback for the failed ones that
    ended, second turns; the shares come from the judge (scripted turns stand in for the model)."""
    tokenizer = build_tokenizer()
    eos = tokenizer.eos_token_id

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    turns = [[ids(ACCEPT_ALL) + [eos], ids(ACCEPT_R) + [eos], ids(ACCEPT_ALL) + [eos], ids(ACCEPT_ALL)],
             [ids(ACCEPT_R) + [eos], ids(ACCEPT_ALL) + [eos]]]
    asked = []

    def scripted(model, sequences, settings):
        asked.append([list(s) for s in sequences])
        return turns.pop(0)

    monkeypatch.setattr(F, "continue_turns", scripted)
    rows = [{"prompt": compact_prompt("Accept if the tape starts with R."), "ground_truth": TESTS}] * 2
    out = F.probe_feedback(object.__new__(_Model), tokenizer, rows, cfg(feedback_max_iterations=1), samples=2)
    assert out["first_turns"] == 4 and out["first_passed"] == 0.25 and out["first_valid"] == 1.0
    assert out["given_feedback"] == 2  # the passing turn and the cut one hear nothing
    assert len(asked[1]) == 2 and out["fixed"] == 0.5 and out["ignored"] == 0.5 and out["second_valid"] == 1.0
    assert out["example"]["second_turn"].strip() == ACCEPT_R.strip()
    assert "does not meet the criteria" in out["example"]["feedback"]


class _Model:
    def eval(self):
        return self

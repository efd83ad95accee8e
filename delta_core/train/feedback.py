"""Feedback in the loop (paper §3.3, claim C7): a failed program hears the judge, and tries again.

A rollout is sampled as usual. Each completion that ended (it sampled its end-of-turn token) and whose
program fails is judged, its end-of-turn token is replaced by the judge's feedback (`feedback_text`:
the failing tapes, as the judge reports them), and the model continues from there with the rollouts'
own sampling settings (`TrainConfig.sampling`). `feedback_max_iterations` rounds at most (the paper: 1).
The completion is scored on what the model wrote after the last feedback (`score_final_turn`).

The feedback tokens are not the policy's samples: they are masked out of the loss. The model's second
turn is conditioned on text it did not write, which is the paper's explanation for this arm training
less stably; its common failure is a model that ignores the feedback and writes its wrong program again
(logged as `feedback_ignored`).

Built on TRL 1.14.2's `rollout_func` (GRPOTrainer's experimental hook, read from the pinned source):
`rollout_func(prompts, trainer)` gets the per-process prompts (already repeated `num_generations`
times by TRL's sampler) and returns `prompt_ids`, `completion_ids` and `logprobs` (None: no vLLM
importance sampling), plus `env_mask` (1 = a token the model sampled, 0 = one it did not), which TRL
turns into its `tool_mask` (loss mask = completion mask x tool mask); every other key reaches the reward
functions as a keyword, as `final_turn` does here. The hook does not need vLLM: the samples are drawn
here with `model.generate`, as TRL's own CPU path draws them. TRL does not pass it the dataset rows,
so the trainer (`run.py`) keeps the batch's rows in `trainer.rollout_inputs` for the judge's tests.

Logged per step (through TRL's metrics, into `metrics.jsonl`): `feedback_samples` (completions that got
feedback), and, of those, `feedback_fixed` (share whose final program passes every test),
`feedback_ignored` (share whose program after the feedback is the one before it) and `feedback_valid`
(share whose program after the feedback parses: `probe_feedback` shows what the others wrote).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..rewards import extract_program, ground_truth_tests, judge_in_process
from .config import TrainConfig

__all__ = ["feedback_text", "FeedbackRollout", "continue_turns", "probe_feedback", "score_final_turn"]

FIX_REQUEST = "Write a program that meets the criteria."


def _failed_line(result: Mapping[str, Any]) -> str:
    """One failing test as the judge reports it: the tape, what should happen, what the program did."""
    output = result["check_output"]  # the output is part of the verdict only when the test checks it
    should = "reject"
    if result["expected_accepted"]:
        should = f'accept with output "{result["expected_output"]}"' if output else "accept"
    if result["actual_accepted"]:
        did = f'accepts with output "{result["actual_output"]}"' if output else "accepts"
    else:
        did = f"rejects ({result['rejection_reason']})" if result.get("rejection_reason") else "rejects"
    described = f" ({result['description']})" if result.get("description") else ""
    return f'- input "{result["input"]}"{described}: should {should}, the program {did}'


def feedback_text(response: Mapping[str, Any], max_failures: int = 8) -> str | None:
    """The feedback that replaces the end-of-turn token of a failed program, from its `judge` response;
    None when every test passed (no feedback). Lists up to `max_failures` failing tapes (a long list of
    35 would swamp the model's context), or gives the parse error as the judge words it.

    Our own words are ones the tiny model's tokenizer knows (`delta_core.mini`), so that it reads the
    feedback rather than a row of unknown tokens; the judge's words (parse errors, rejection reasons,
    test descriptions) and the tapes and outputs are passed on exactly as the judge reports them.

    >>> tests = [{"input": "R", "check_output": False},
    ...          {"input": "B", "expected_accepted": False, "check_output": False}]
    >>> from delta_core.judge import judge
    >>> print(feedback_text(judge("START start:\\n    NEXT end\\nEND end", tests)).strip())
    The program does not meet the criteria for 1 of 2 tapes:
    - input "B": should reject, the program accepts
    Write a program that meets the criteria.
    """
    if response["all_passed"]:
        return None
    if not response["valid"]:
        return f"\n\n{response['message']}\n{FIX_REQUEST}\n"
    results = response["results"]
    failed = [r for r in results if not r["passed"]]
    lines = [f"The program does not meet the criteria for {len(failed)} of {len(results)} tapes:"]
    lines += [_failed_line(r) for r in failed[:max_failures]]
    if len(failed) > max_failures:
        lines.append(f"- and {len(failed) - max_failures} more")
    # Two newlines: the feedback starts a paragraph of its own after the program it judges.
    return "\n\n" + "\n".join(lines + [FIX_REQUEST]) + "\n"


def _program(text: str) -> str:
    return extract_program(text).strip()


def continue_turns(model: Any, sequences: Sequence[Sequence[int]], settings: dict[str, Any]) -> list[list[int]]:
    """One continuation of each token sequence (left-padded into one batch) with `model.generate` and
    `settings` (`FeedbackRollout.settings`), each cut after its first end-of-turn token (TRL's rule)."""
    import torch
    from transformers import GenerationConfig

    pad_id, eos_ids = settings["pad_token_id"], settings["eos_token_id"]
    width = max(len(s) for s in sequences)
    device = model.device
    input_ids = torch.tensor([[pad_id] * (width - len(s)) + list(s) for s in sequences], device=device)
    attention_mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=device)
    generated = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                               generation_config=GenerationConfig(**settings))
    turns = []
    for row in generated[:, width:].tolist():  # (B, new tokens), right-padded
        stop = next((i for i, token in enumerate(row) if token in eos_ids), None)
        turns.append(row if stop is None else row[: stop + 1])
    return turns


def probe_feedback(model: Any, tokenizer: Any, rows: Sequence[Mapping[str, Any]], config: TrainConfig,
                   samples: int = 4, seed: int = 0) -> dict[str, Any]:
    """What a model does with the judge's feedback, outside training: `samples` first turns per row (the
    rollouts' sampler), and for each failed one that ended, the feedback and one more turn, as
    `FeedbackRollout` would. Returns the shares of first and second turns whose program parses, of
    second turns that pass (`fixed`) and that repeat the first program (`ignored`), and one example."""
    import torch

    eos_ids = [tokenizer.eos_token_id]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    rollout = FeedbackRollout(config)
    settings = rollout.settings(pad_id, eos_ids)
    prompts, tests = [], []
    for row in rows:
        messages = row["prompt"] if not isinstance(row["prompt"], str) else [{"role": "user", "content": row["prompt"]}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        prompts += [list(ids["input_ids"])] * samples
        tests += [ground_truth_tests(row["ground_truth"])] * samples
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed)
        first = continue_turns(model, prompts, settings)
        texts = [tokenizer.decode(t, skip_special_tokens=True) for t in first]
        verdicts = judge_in_process([(extract_program(t), tests[i]) for i, t in enumerate(texts)])
        failed = [i for i, t in enumerate(first) if t and t[-1] in eos_ids and not verdicts[i]["all_passed"]]
        feedback = {i: feedback_text(verdicts[i]) for i in failed}
        fed = {i: tokenizer(feedback[i], add_special_tokens=False)["input_ids"] for i in failed}
        second = continue_turns(model, [prompts[i] + first[i][:-1] + fed[i] for i in failed], settings) if failed else []
    again = [tokenizer.decode(t, skip_special_tokens=True) for t in second]
    judged = judge_in_process([(extract_program(t), tests[i]) for i, t in zip(failed, again)])
    n = len(failed)
    share = (lambda k: k / n) if n else (lambda k: None)
    return {
        "first_turns": len(first),
        "first_valid": sum(bool(v["valid"]) for v in verdicts) / len(first),
        "first_passed": sum(bool(v["all_passed"]) for v in verdicts) / len(first),
        "given_feedback": n,
        "second_valid": share(sum(bool(v["valid"]) for v in judged)),
        "fixed": share(sum(bool(v["all_passed"]) for v in judged)),
        "ignored": share(sum(_program(t) == _program(texts[i]) for i, t in zip(failed, again))),
        "example": None if not n else {"first_turn": texts[failed[0]], "feedback": feedback[failed[0]],
                                       "second_turn": again[0]},
    }


class FeedbackRollout:
    """TRL's `rollout_func`: the rollouts, with feedback for failed programs (see the module docstring).

    `rollout(prompts, trainer)` reads the batch's rows (their `ground_truth`) from
    `trainer.rollout_inputs`, in the order of `prompts`, and logs the feedback metrics in `trainer._metrics`
    (where TRL keeps what it averages and logs each step, as the replay buffer's counts are kept)."""

    def __init__(self, config: TrainConfig):
        self.max_iterations = config.feedback_max_iterations
        # The rollouts' settings (temperature, top_p, top_k, max_completion_length) for the first sample
        # and every continuation. Its seed is unused: samples come from the global torch RNG, as TRL's
        # own rollouts do, so that successive steps draw different samples.
        self.sampling = config.sampling(1)
        self.cache = {} if config.generation_cache is None else {"cache_implementation": config.generation_cache}

    def settings(self, pad_id: int, eos_ids: Sequence[int]) -> dict[str, Any]:
        """`model.generate`'s arguments for a turn: the rollouts' sampler, the run's KV cache."""
        return dict(max_new_tokens=self.sampling.max_new_tokens, eos_token_id=list(eos_ids), pad_token_id=pad_id,
                    **self.cache, **self.sampling.generate_kwargs())

    def sample(self, trainer: Any, sequences: Sequence[Sequence[int]]) -> list[list[int]]:
        """One continuation of each token sequence, cut after its first end-of-turn token (TRL's rule)."""
        import torch
        from trl.models import unwrap_model_for_generation

        settings = self.settings(trainer.processing_class.pad_token_id, trainer.eos_token_ids)
        # `generation_kwargs` also overrides the model's own generation_config while it generates, as TRL
        # does, so that no default of the checkpoint (e.g. top_k=50) slips in.
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         generation_kwargs=settings) as model, torch.no_grad():
            return continue_turns(model, sequences, settings)

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        tokenizer = trainer.processing_class
        rows = getattr(trainer, "rollout_inputs", None)
        if rows is None or len(rows) != len(prompts):
            raise RuntimeError("FeedbackRollout needs the batch's rows in `trainer.rollout_inputs` (one per prompt, "
                               "in order), which delta_core.train's trainer sets; use it through train()")
        tests = [ground_truth_tests(row["ground_truth"]) for row in rows]
        if isinstance(prompts[0], str):
            prompt_ids = tokenizer(text=prompts)["input_ids"]
        else:  # chat messages: TRL's own templating (no tools, the tokenizer's template)
            prompt_ids = tokenizer.apply_chat_template(prompts, add_generation_prompt=True, tokenize=True,
                                                       return_dict=True)["input_ids"]
        prompt_ids = [list(ids) for ids in prompt_ids]
        eos_ids = set(trainer.eos_token_ids)

        completions = self.sample(trainer, prompt_ids)
        env_mask = [[1] * len(ids) for ids in completions]
        last_turn = [list(ids) for ids in completions]  # what the model wrote after the last feedback
        before: dict[int, str] = {}  # completion -> its program before the last feedback it got
        for _ in range(self.max_iterations):
            texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in last_turn]
            ended = [i for i, ids in enumerate(last_turn) if ids and ids[-1] in eos_ids]  # a cut turn is not "done"
            responses = judge_in_process([(extract_program(texts[i]), tests[i]) for i in ended])
            feedback = {i: feedback_text(r) for i, r in zip(ended, responses)}
            failed = [i for i in ended if feedback[i] is not None]
            if not failed:
                break
            for i in failed:
                ids = tokenizer(feedback[i], add_special_tokens=False)["input_ids"]
                # The end-of-turn token is replaced by the feedback, which the policy did not sample.
                completions[i] = completions[i][:-1] + ids
                env_mask[i] = env_mask[i][:-1] + [0] * len(ids)
                before[i] = _program(texts[i])
            for i, turn in zip(failed, self.sample(trainer, [prompt_ids[i] + completions[i] for i in failed])):
                completions[i] = completions[i] + turn
                env_mask[i] = env_mask[i] + [1] * len(turn)
                last_turn[i] = turn
        final_turn = [tokenizer.decode(ids, skip_special_tokens=True) for ids in last_turn]
        self._log(trainer, before, final_turn, tests)
        return {"prompt_ids": prompt_ids, "completion_ids": completions, "logprobs": None,
                "env_mask": env_mask, "final_turn": final_turn}

    @staticmethod
    def _log(trainer: Any, before: dict[int, str], final_turn: list[str], tests: list[Any]) -> None:
        metrics = trainer._metrics["train" if trainer.model.training else "eval"]
        metrics["feedback_samples"].append(float(len(before)))
        if not before:  # no share of nothing: the two rates are absent (null) this step
            return
        helped = list(before)
        verdicts = judge_in_process([(extract_program(final_turn[i]), tests[i]) for i in helped])
        metrics["feedback_fixed"].append(sum(bool(v["all_passed"]) for v in verdicts) / len(helped))
        # a second turn that is no program at all is a third outcome, neither fixed nor ignored
        metrics["feedback_valid"].append(sum(bool(v["valid"]) for v in verdicts) / len(helped))
        metrics["feedback_ignored"].append(sum(_program(final_turn[i]) == before[i] for i in helped) / len(helped))


def score_final_turn(reward: Callable[..., list[float]]) -> Callable[..., list[float]]:
    """`reward` scoring each completion's `final_turn` (FeedbackRollout's field: what the model wrote
    after the last feedback; the whole completion when there was none) instead of the whole completion,
    whose feedback text and earlier program the judge must not see. Same name as `reward`, so TRL logs
    it under the same key."""

    def scored_on_final_turn(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        final_turn = kwargs.pop("final_turn", None)
        return reward(completions if final_turn is None else final_turn, **kwargs)

    scored_on_final_turn.__name__ = scored_on_final_turn.__qualname__ = reward.__name__
    return scored_on_final_turn

"""Sample k completions per problem and judge them: the input of pass@k (`delta_core.passk`).

One sampling path for everything that evaluates a model (the trainer's held-out pass@k, DELTA-mini,
both transfer experiments, the GPU script, the baseline): `generate_completions(model, tokenizer,
prompts, n, config, seed)` draws n completions per prompt with `model.generate`, with the settings of a
`SamplingConfig` (temperature, top_p, top_k, max_new_tokens). `TrainConfig.sampling()` builds that
config from the training run's own generation settings, so evaluation samples exactly as the GRPO
rollouts do. `score_samples` judges what was drawn (pass@1, pass@k, dense mean, per problem), and
`sample_and_score` is the two in one call.

Two back-ends behind one interface (`Sampler.generate(prompts, n, config)`):

- `"transformers"` (`TransformersSampler`): `model.generate` on CPU. The prompt (~900 tokens of the
  A.2.4 prompt, through the chat template) is encoded once per problem and its KV cache is copied to
  every sample of the batch, so the n samples of a problem share one prefill. Each (problem, batch)
  draws from its own seed, derived from `config.seed`, the prompt and the batch's first sample index:
  a fixed seed reproduces the same completions on CPU, whatever else is sampled in the same run.
- `"vllm"` (`VLLMSampler`): vLLM on a GPU, `n` samples per prompt in one request. vLLM is imported
  inside the constructor only, so the CPU path never imports it; without vLLM or without a GPU the
  constructor raises `BackendUnavailableError`.

`sample_problems` turns problems into `ProblemResult`s: per problem, k `Sample`s holding the
extracted program (`rewards.extract_program`) and its judged score (`rewards.score_completion`:
pass_rate, all_pass). Both back-ends give exactly this format.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .passk import pass_at_k
from .rewards import completion_text, extract_program, score_completion

__all__ = [
    "BACKENDS",
    "KV_CACHES",
    "BackendUnavailableError",
    "SamplingConfig",
    "Generation",
    "Sample",
    "ProblemResult",
    "Sampler",
    "TransformersSampler",
    "VLLMSampler",
    "make_sampler",
    "problem_prompt",
    "problem_meta",
    "judge_generations",
    "sample_problems",
    "derive_seed",
    "generate_completions",
    "score_samples",
    "sample_and_score",
]

BACKENDS = ("transformers", "vllm")
# The KV caches a batched `model.generate` may use (`cache=`; `TrainConfig.generation_cache`): None is
# transformers' default, which concatenates a copy of itself at every new token; "static" is preallocated.
# Both draw the same tokens for one seed (tests/test_sampling.py). Which is faster depends on the model
# (benchmarks/generation_cache.py): static for DELTA-mini's 2M-parameter Llama, whose decoding is mostly
# those copies (2.9x on feedback continuations, 1.35x on rollouts), the default for SmolLM2-135M (static
# was 3x slower there on this CPU).
KV_CACHES = (None, "static")


class BackendUnavailableError(RuntimeError):
    """The requested sampling back-end cannot run here (package missing, no GPU)."""


@dataclass(frozen=True)
class SamplingConfig:
    """Generation parameters shared by both back-ends.

    Defaults follow the usual pass@k protocol (Yue et al. 2025): temperature 0.6, top-p 0.95, no top-k
    cut (0, as TRL's GRPO rollouts; transformers' own default would be 50). Temperature 0 is greedy.
    `batch_size` (transformers only) caps the sequences decoded together.
    """

    n_samples: int = 4
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int = 0
    batch_size: int = 8
    top_k: int = 0  # 0 = no top-k cut

    def __post_init__(self) -> None:
        for name in ("n_samples", "batch_size", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be >= 1")
        if self.temperature < 0:
            raise ValueError(f"temperature={self.temperature!r}: must be >= 0 (0 = greedy)")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p!r}: must be in (0, 1] (1 = no nucleus cut)")
        if self.top_k < 0:
            raise ValueError(f"top_k={self.top_k!r}: must be >= 0 (0 = no top-k cut)")

    def generate_kwargs(self) -> dict[str, Any]:
        """The sampling arguments of `model.generate` (all of them, so no model default slips in)."""
        if self.temperature == 0:
            return dict(do_sample=False)
        return dict(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)


@dataclass(frozen=True)
class Generation:
    """One raw completion from a back-end."""

    text: str
    n_tokens: int
    finished: bool  # stopped on an end-of-turn token rather than on max_new_tokens
    token_ids: tuple[int, ...] = ()  # the completion's tokens (the end-of-turn token included when finished)


@dataclass
class Sample:
    """One judged completion."""

    program: str
    pass_rate: float  # dense score: fraction of tests passed
    all_pass: float  # binary score: 1.0 iff every test passes
    n_tokens: int
    finished: bool
    text: str | None = None  # the completion (kept only when asked: artifacts stay small)


@dataclass
class ProblemResult:
    """A problem's k judged samples, with what identifies the problem."""

    id: str
    family: str
    level: str
    colour_mode: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def n_correct(self) -> int:
        return sum(s.all_pass == 1.0 for s in self.samples)

    @property
    def mean_pass_rate(self) -> float:
        return sum(s.pass_rate for s in self.samples) / len(self.samples) if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ProblemResult:
        samples = [Sample(**s) for s in record.get("samples", [])]
        return cls(record["id"], record["family"], record["level"], record["colour_mode"], samples)


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from `seed` and any identifying parts (stable across processes and platforms)."""
    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class Sampler(ABC):
    """A back-end: `generate(prompts, n, config)` -> per prompt, n `Generation`s.

    `prompts` are user-turn texts; the back-end applies its tokenizer's chat template."""

    backend: str = ""

    @abstractmethod
    def generate(
        self, prompts: Sequence[str], n: int, config: SamplingConfig, first_index: int = 0
    ) -> list[list[Generation]]:
        """n completions per prompt; `first_index` is the index of the first of them among all the
        samples of that prompt (so a resumed run draws the same samples as an uninterrupted one)."""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend}


def eos_token_ids(model, tokenizer) -> list[int]:
    """Every token that ends a turn: the model's and tokenizer's EOS and the usual chat end markers."""
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def _prompt_text(tokenizer, prompt: str | Sequence[Mapping[str, Any]]) -> str:
    """A user-turn text, or a list of chat messages, as the model's input text (chat template applied)."""
    from .models import chat_prompt

    if isinstance(prompt, str):
        return chat_prompt(tokenizer, prompt)
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)


def _generations(tokenizer, rows: list[list[int]], eos_ids: list[int]) -> list[Generation]:
    out = []
    for row in rows:
        stop = next((i for i, t in enumerate(row) if t in eos_ids), None)
        kept = row if stop is None else row[:stop]
        out.append(Generation(text=tokenizer.decode(kept, skip_special_tokens=True),
                              n_tokens=len(kept) + (stop is not None), finished=stop is not None,
                              token_ids=tuple(row if stop is None else row[: stop + 1])))
    return out


def generate_completions(model, tokenizer, prompts: Sequence[str | Sequence[Mapping[str, Any]]], n: int,
                         config: SamplingConfig, seed: int | None = None, cache: str | None = None) -> list[list[Generation]]:
    """n sampled completions per prompt with `model.generate`, as `config` says (the one sampling path).

    `prompts`: user-turn texts or chat message lists (the tokenizer's chat template is applied).
    Up to `config.batch_size` sequences are decoded together: several prompts (left-padded) with n
    samples each when n is smaller than that, else one prompt at a time, whose prompt is run through
    the model once and its KV cache copied to every sample of the batch. The torch RNG is forked and
    seeded with `seed` (default `config.seed`), so the caller's random stream is left as it was and the
    same call draws the same completions. The model is put in eval mode and back. `cache`: the KV cache
    of the batched decodes (`KV_CACHES`; the same samples either way, only the speed differs)."""
    import torch

    if cache not in KV_CACHES:
        raise ValueError(f"cache={cache!r}: must be one of {KV_CACHES}")
    batched = {} if cache is None else {"cache_implementation": cache}

    eos_ids = eos_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    texts = [_prompt_text(tokenizer, p) for p in prompts]
    sampling = config.generate_kwargs()
    common = dict(max_new_tokens=config.max_new_tokens, eos_token_id=eos_ids, pad_token_id=pad_id, **sampling)
    out: list[list[Generation]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(config.seed if seed is None else seed)
            per_call = max(1, config.batch_size // n)  # prompts decoded together
            if per_call > 1:
                for start in range(0, len(texts), per_call):
                    chunk = texts[start : start + per_call]
                    enc = tokenizer(chunk, return_tensors="pt", padding=True, padding_side="left",
                                    add_special_tokens=False)
                    enc = {k: v.to(model.device) for k, v in enc.items()}
                    generated = model.generate(**enc, num_return_sequences=n, **batched, **common)
                    rows = _generations(tokenizer, generated[:, enc["input_ids"].shape[1] :].tolist(), eos_ids)
                    out += [rows[i * n : (i + 1) * n] for i in range(len(chunk))]
                return out
            for text in texts:
                ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids.to(model.device)
                # Prefill the prompt (all but its last token) once; every batch continues from a copy.
                prefix = model(input_ids=ids[:, :-1], use_cache=True).past_key_values
                gens: list[Generation] = []
                while len(gens) < n:
                    m = min(config.batch_size, n - len(gens))
                    cache = copy.deepcopy(prefix)
                    if m > 1:
                        cache.batch_repeat_interleave(m)
                    generated = model.generate(
                        input_ids=ids.expand(m, -1),
                        attention_mask=torch.ones(m, ids.shape[1], dtype=torch.long, device=ids.device),
                        past_key_values=cache, **common)
                    gens += _generations(tokenizer, generated[:, ids.shape[1] :].tolist(), eos_ids)
                out.append(gens)
    finally:
        model.train(was_training)
    return out


Scorer = Callable[[Sequence[Any], Mapping[str, Any]], list[tuple[float, float]]]


def score_with_judge(completions: Sequence[Any], row: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(dense, binary) of each completion against the Manufactoria tests in `row["ground_truth"]`."""
    return [score_completion(c, row["ground_truth"]) for c in completions]


def score_samples(rows: Sequence[Mapping[str, Any]], samples: Sequence[Sequence[Any]], k: int,
                  criteria: Sequence[str] | None = None, keep_examples: int = 0,
                  scorer: Scorer = score_with_judge) -> dict[str, Any]:
    """Judge `samples` (the completions drawn for each of `rows`, dataset rows with `ground_truth`):
    pass@1 and pass@k (unbiased, over each problem's n samples), the dense mean, the number of problems
    with a full pass, one record per problem (`id`, `criteria`, `n`, `c`, `dense_mean`, `dense_max`),
    and, with `keep_examples`, the first full-pass program of up to that many problems. `scorer` gives
    (dense, binary) per completion of one row (another domain passes its own)."""
    per_problem, examples = [], []
    for i, (row, completions) in enumerate(zip(rows, samples)):
        completions = [c.text if isinstance(c, Generation) else c for c in completions]
        scores = scorer(completions, row)
        correct = sum(int(b >= 1.0) for _, b in scores)
        record = {"id": row.get("id"), "n": len(scores), "c": correct,
                  "dense_mean": sum(d for d, _ in scores) / len(scores), "dense_max": max(d for d, _ in scores)}
        if criteria is not None:
            record = {"id": record.pop("id"), "criteria": criteria[i], **record}
        per_problem.append(record)
        if len(examples) < keep_examples:
            for completion, (_, full) in zip(completions, scores):
                if full >= 1.0:
                    examples.append({"criteria": criteria[i] if criteria is not None else row.get("id"),
                                     "program": extract_program(completion_text(completion))})
                    break
    result: dict[str, Any] = {"n_problems": len(per_problem), "k": k}
    for kk in sorted({1, k}):
        result[f"pass@{kk}"] = sum(pass_at_k(p["n"], p["c"], kk) for p in per_problem) / len(per_problem)
    result["dense_mean"] = sum(p["dense_mean"] for p in per_problem) / len(per_problem)
    result["problems_with_a_full_pass"] = sum(p["c"] > 0 for p in per_problem)
    result["per_problem"] = per_problem
    if keep_examples:
        result["examples"] = examples
    return result


def sample_and_score(model, tokenizer, rows: Sequence[Mapping[str, Any]], k: int, config: SamplingConfig,
                     seed: int | None = None, criteria: Sequence[str] | None = None, keep_examples: int = 0,
                     scorer: Scorer = score_with_judge, cache: str | None = None) -> dict[str, Any]:
    """k completions for each row's `prompt` (`generate_completions`), judged (`score_samples`)."""
    if not rows:
        raise ValueError("sample_and_score: no problems to evaluate (rows is empty)")
    samples = generate_completions(model, tokenizer, [r["prompt"] for r in rows], k, config, seed, cache=cache)
    return score_samples(rows, samples, k, criteria=criteria, keep_examples=keep_examples, scorer=scorer)


class TransformersSampler(Sampler):
    """CPU sampling with `generate_completions`, each (prompt, first sample index) with its own seed."""

    backend = "transformers"

    def __init__(self, loaded, num_threads: int | None = None) -> None:
        """`loaded`: a `models.LoadedModel`. `num_threads`: sets torch's CPU threads (process-wide);
        on a shared or busy machine 1 is often faster than oversubscribed cores."""
        import torch

        if num_threads:
            torch.set_num_threads(num_threads)
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.stats = {"generated_tokens": 0, "prompt_tokens": 0, "seconds": 0.0, "calls": 0}

    def describe(self) -> dict[str, Any]:
        import torch

        stats = dict(self.stats)
        stats["tokens_per_second"] = (
            round(stats["generated_tokens"] / stats["seconds"], 2) if stats["seconds"] else None
        )
        return {"backend": self.backend, "torch_threads": torch.get_num_threads(), **stats}

    def generate(
        self, prompts: Sequence[str], n: int, config: SamplingConfig, first_index: int = 0
    ) -> list[list[Generation]]:
        out = []
        for prompt in prompts:
            start = time.perf_counter()
            gens: list[Generation] = []
            # a seed per (prompt, batch's first sample index): a resumed run draws what an uninterrupted one
            # would, whatever else is sampled in the same run
            for done in range(0, n, config.batch_size):
                m = min(config.batch_size, n - done)
                (batch,) = generate_completions(self.model, self.tokenizer, [prompt], m, config,
                                                seed=derive_seed(config.seed, prompt, first_index + done))
                gens += batch
            self.stats["seconds"] += time.perf_counter() - start
            self.stats["generated_tokens"] += sum(g.n_tokens for g in gens)
            self.stats["prompt_tokens"] += len(self.tokenizer(_prompt_text(self.tokenizer, prompt),
                                                              add_special_tokens=False).input_ids)
            self.stats["calls"] += 1
            out.append(gens)
        return out


def _gpu_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover - torch is a dependency
        return False


class VLLMSampler(Sampler):
    """GPU sampling with vLLM: one request per prompt with `n` samples. Needs `pip install
    '.[gpu]'` and a CUDA GPU; vLLM is imported here, never at module import time."""

    backend = "vllm"

    def __init__(
        self,
        model: Any = None,
        adapter: str | None = None,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int = 4096,
        **llm_kwargs: Any,
    ) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise BackendUnavailableError(
                "backend='vllm' needs the vllm package and a CUDA GPU: `pip install -e '.[gpu]'` on a GPU "
                "machine. On CPU use backend='transformers'."
            )
        if not _gpu_available():
            raise BackendUnavailableError(
                "backend='vllm' needs a CUDA GPU and none is visible (torch.cuda.is_available() is False). "
                "On CPU use backend='transformers'."
            )
        from vllm import LLM  # noqa: PLC0415  (GPU path only)

        from pathlib import Path

        from .models import gguf_cache_path, load_model, resolve_spec

        if hasattr(model, "source"):  # a LoadedModel: reuse where it came from
            model, adapter = model.source.location, adapter or model.adapter
        source = resolve_spec(model)
        location = source.location
        if source.kind == "gguf":
            # vLLM reads HF checkpoints best; the converted cache is one (load_model writes it).
            load_model(model)  # writes the converted checkpoint to the cache
            location = str(gguf_cache_path(Path(source.location)))
        self.adapter = adapter
        self.model_location = location
        self.llm = LLM(
            model=location,
            enable_lora=adapter is not None,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            **llm_kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model_location, "adapter": self.adapter}

    def generate(
        self, prompts: Sequence[str], n: int, config: SamplingConfig, first_index: int = 0
    ) -> list[list[Generation]]:
        from vllm import SamplingParams  # noqa: PLC0415

        from .models import chat_prompt

        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest  # noqa: PLC0415

            lora = LoRARequest("adapter", 1, self.adapter)
        params = SamplingParams(
            n=n,
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_new_tokens,
            seed=derive_seed(config.seed, first_index),
        )
        texts = [chat_prompt(self.tokenizer, p) for p in prompts]
        outputs = self.llm.generate(texts, params, lora_request=lora)
        return [
            [Generation(c.text, len(c.token_ids), c.finish_reason == "stop") for c in request.outputs]
            for request in outputs
        ]


def make_sampler(backend: str = "transformers", model: Any = None, **kwargs: Any) -> Sampler:
    """A sampler for `backend` ('transformers' or 'vllm'). `model` is a `LoadedModel` or a spec for
    `models.load_model` (default: the embedded SmolLM2)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: choose one of {list(BACKENDS)}")
    if backend == "vllm":
        return VLLMSampler(model, **kwargs)
    from .models import load_model

    adapter = kwargs.pop("adapter", None)
    loaded = model if hasattr(model, "tokenizer") else load_model(model, adapter=adapter)
    return TransformersSampler(loaded, **kwargs)


def problem_prompt(problem: Any) -> str:
    """The user-turn text of a `Problem` or an HF record (its first message)."""
    if hasattr(problem, "to_hf_record"):
        from .tasks.prompt import build_prompt

        return build_prompt(problem)
    return problem["messages"][0]["content"]


def problem_meta(problem: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """(identity fields, test cases) of a `Problem` or an HF record."""
    if hasattr(problem, "to_hf_record"):
        meta = dict(
            id=problem.id,
            family=problem.family,
            level=str(problem.difficulty_level),
            colour_mode=problem.color_mode,
        )
        return meta, problem.tests()
    tests = problem["ground_truth"]
    meta = dict(
        id=problem["id"],
        family=problem.get("problem_family", ""),
        level=str(problem.get("difficulty", "")),
        colour_mode=problem.get("color_mode", ""),
    )
    return meta, tests


def judge_generations(
    generations: Iterable[Generation], tests: Any, keep_text: int | None = 0
) -> list[Sample]:
    """Extract and judge each completion. `keep_text`: characters of the completion to keep
    (0: none, None: all)."""
    samples = []
    for g in generations:
        pass_rate, all_pass = score_completion(g.text, tests)
        text = None if keep_text == 0 else g.text if keep_text is None else g.text[:keep_text]
        samples.append(Sample(extract_program(g.text), pass_rate, all_pass, g.n_tokens, g.finished, text))
    return samples


def sample_problems(
    problems: Sequence[Any],
    sampler: Sampler,
    config: SamplingConfig = SamplingConfig(),
    keep_text: int | None = 0,
    progress: bool = True,
    on_result: Callable[[ProblemResult], None] | None = None,
) -> list[ProblemResult]:
    """Sample `config.n_samples` completions for every problem and judge them.

    `problems`: `delta_core.tasks.Problem`s or their HF records. `on_result` is called after each
    problem (e.g. to append it to a JSONL file). A tqdm bar counts problems when `progress`.
    """
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(problems, desc=f"sampling ({sampler.backend})", unit="problem", disable=not progress)
    for problem in bar:
        meta, tests = problem_meta(problem)
        (generations,) = sampler.generate([problem_prompt(problem)], config.n_samples, config)
        result = ProblemResult(**meta, samples=judge_generations(generations, tests, keep_text))
        results.append(result)
        if on_result is not None:
            on_result(result)
        bar.set_postfix(correct=f"{result.n_correct}/{result.n}", dense=f"{result.mean_pass_rate:.2f}")
    return results

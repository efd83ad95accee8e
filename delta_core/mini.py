"""A tiny Llama and its tokenizer, built locally: the model of the CPU tests and of DELTA-mini.

    python -m delta_core.mini /tmp/mini          # writes a randomly initialised checkpoint
    >>> from delta_core.models import load_model
    >>> loaded = load_model("/tmp/mini")          # doctest: +SKIP

`build_tokenizer()` is a word/character-level tokenizer made with the `tokenizers` library. Its
vocabulary is not learned from data but *enumerated* from the task package, so it is the same on every
machine: the DSL keywords, every word of every family's criteria sentence and of the A.2.4 prompt,
digits and colour letters one at a time (so `RRB`, `q12` and `255` are spelled out, which a small
model can generalise over), punctuation, newline and the 4-space indent. A leading space is part of a
word (` tape`), as in GPT-style tokenizers, so a program takes few tokens (~35 for a basic solution).
Decoding concatenates the pieces, so `decode(encode(text)) == text` for any text in the vocabulary.

Chat template (one turn per message, the assistant's ended by `<|end|>`, which is also EOS):

    <|user|>{content}<|end|><|assistant|>{content}<|end|>

`build_model(tokenizer)` is a `LlamaForCausalLM` of ~1.9M parameters (`MiniConfig` sets the sizes).
`save_mini(path)` writes both with `save_pretrained`, so `delta_core.models.load_model(path)` loads it.

`compact_prompt(criteria)` is the short prompt the tiny model is trained on: the criteria sentence
after one line of instruction, instead of the 1-2k-token A.2.4 prompt.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "MiniConfig",
    "PRETOKENIZE",
    "SPECIAL_TOKENS",
    "CHAT_TEMPLATE",
    "compact_prompt",
    "vocabulary",
    "build_tokenizer",
    "build_model",
    "save_mini",
    "solution_text",
    "sft_rows",
    "warm_start",
]

# DSL keywords come first so that `END` in `END end` is one token and not `E`, `N`, `D`. The node types
# come from dsl.NODE_TYPES, pullers and painters before START and END (the order of the regex's
# alternatives, kept so the tokenizer stays byte-identical), then the route words.
from .dsl import NODE_TYPES as _NODE_TYPES

_KEYWORDS = tuple(sorted(_NODE_TYPES, key=lambda name: name in ("START", "END"))) + ("NEXT", "EMPTY", "NONE")
# One piece of text per match, tried left to right; the last alternative takes any other character.
PRETOKENIZE = (
    r"    "  # the DSL's indent
    r"| ?(?:" + "|".join(_KEYWORDS) + r")\b"
    r"| ?[A-Z][a-z]+"  # capitalised words: Accept, Design
    r"| ?[a-z]+"  # lower-case words and node-id stems: tape, q, paint
    r"| ?[0-9]"  # digits one by one: numbers and node ids are spelled out
    r"| ?[A-Z]"  # single capitals: colour letters R B Y G, one per token
    r"| ?[^\w\s]"  # punctuation, optionally after a space
    r"|[\s\S]"  # anything else, one character (newline, space, '_', non-ASCII)
)

PAD, UNK, USER, ASSISTANT, END_TURN = "<pad>", "<unk>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = (PAD, UNK, USER, ASSISTANT, END_TURN)

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}" + ASSISTANT + "{{ message['content'] }}" + END_TURN + "{% else %}"
    + USER + "{{ message['content'] }}" + END_TURN + "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)

COMPACT_INSTRUCTION = "Write a Manufactoria DSL program."


def compact_prompt(criteria: str) -> str:
    """The tiny model's prompt: one instruction line, then the problem's criteria sentence."""
    return f"{COMPACT_INSTRUCTION}\n{criteria}"


@dataclass(frozen=True)
class MiniConfig:
    """Sizes of the tiny Llama (defaults: ~1.9M parameters, trains at a few s/step on 2 CPU cores)."""

    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512
    max_position_embeddings: int = 1024  # compact prompts are ~40 tokens, programs up to a few hundred
    seed: int = 0  # weight initialisation

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by num_attention_heads="
                f"{self.num_attention_heads}; pick sizes whose ratio is an integer head dimension"
            )


def _pieces(text: str) -> list[str]:
    return re.findall(PRETOKENIZE, text)


def vocabulary() -> list[str]:
    """Every piece the tokenizer knows, in a fixed order (special tokens first).

    Enumerated from the task package: criteria of every family, level and colour mode (first 1000
    parameter points each), their solutions (first 200), the A.2.4 prompt text, and the compact
    instruction, plus every printable ASCII character with and without a leading space."""
    from .tasks import LEVELS, FAMILIES, parameter_space
    from .tasks.base import COLOUR_MODES, TWO_COLOUR_SUFFIX
    from .tasks import prompt as prompt_module

    pieces: set[str] = set()
    for family, levels in LEVELS.items():
        if family not in FAMILIES:
            continue
        fam = FAMILIES[family]
        for level, settings in levels.items():
            for colour_mode in settings.colour_modes:
                space = parameter_space(family, level, colour_mode)
                for params in space[:1000]:
                    pieces.update(_pieces(fam.criteria(params)))
                    if fam.description is not None:
                        pieces.update(_pieces(fam.description(params)))
                for params in space[:200]:
                    pieces.update(_pieces(fam.solution(params, COLOUR_MODES[colour_mode])))
    for text in (
        prompt_module.OVERVIEW,
        prompt_module.OBJECTIVE_SIMPLE,
        prompt_module.OBJECTIVE_OUTPUT_CHECK,
        prompt_module.SYNTAX,
        prompt_module.NODES,
        prompt_module._rules(True),
        prompt_module._rules(False),
        prompt_module.EXAMPLE,
        prompt_module.TASK,
        TWO_COLOUR_SUFFIX,
        COMPACT_INSTRUCTION,
        "```manufactoria\n```\n",
    ):
        pieces.update(_pieces(text))
    for code in range(32, 127):  # printable ASCII, bare and after a space: nothing short is unknown
        pieces.add(chr(code))
        pieces.add(" " + chr(code))
    pieces.update(["\n", "\t", "    "])
    return list(SPECIAL_TOKENS) + sorted(pieces - set(SPECIAL_TOKENS))


def build_tokenizer(pieces: Iterable[str] | None = None, pretokenize: str = PRETOKENIZE):
    """A word-level `transformers` fast tokenizer, with the chat template, pad and EOS set.

    Its vocabulary is `vocabulary()` (the Manufactoria tasks') unless `pieces` are given: then the
    special tokens followed by the sorted pieces, split off the text by the `pretokenize` regex (the
    BouncingSim transfer experiment builds its tokenizer this way, from its own words)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = vocabulary() if pieces is None else list(SPECIAL_TOKENS) + sorted(set(pieces) - set(SPECIAL_TOKENS))
    vocab = {piece: index for index, piece in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(pretokenize), behavior="isolated")
    core.decoder = decoders.Fuse()  # pieces carry their own spaces: join them with nothing
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=END_TURN,
        additional_special_tokens=[USER, ASSISTANT],
        clean_up_tokenization_spaces=False,
        padding_side="left",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = MiniConfig.max_position_embeddings
    return tokenizer


def build_model(tokenizer, config: MiniConfig | None = None):
    """A randomly initialised `LlamaForCausalLM` sized by `config`, its vocabulary that of `tokenizer`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = config or MiniConfig()
    torch.manual_seed(config.seed)
    llama = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_attention_heads,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(llama)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = None
    return model


def save_mini(path: str | os.PathLike, config: MiniConfig | None = None) -> Path:
    """Build the tokenizer and a fresh model and `save_pretrained` both into `path` (returned)."""
    path = Path(path)
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "MINI.txt").write_text(f"delta_core.mini, {asdict(config or MiniConfig())}\n")
    return path


def solution_text(solution: str) -> str:
    """A verified solution as the tiny model writes it: comment lines and surrounding blank lines dropped."""
    return "\n".join(line for line in solution.splitlines() if not line.lstrip().startswith("#")).strip()


def sft_rows(problems) -> list[dict]:
    """Prompt-completion chat rows (compact prompt -> solution) for TRL's `SFTTrainer`."""
    return [
        {
            "prompt": [{"role": "user", "content": compact_prompt(p.criteria)}],
            "completion": [{"role": "assistant", "content": solution_text(p.solution)}],
        }
        for p in problems
    ]


def warm_start(
    model_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    problems,
    max_steps: int = 40,
    learning_rate: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    cpu_threads: int | None = 1,
    progress: bool = False,
) -> Path:
    """A short SFT (TRL `SFTTrainer`, loss on the completion only) of the model in `model_dir` on
    compact prompt -> verified solution pairs; the result is saved to `out_dir` (returned).

    Meant as a *partial* warm start: a few dozen steps give a model that writes DSL-shaped programs
    that pass some tests, which GRPO can then improve; DELTA-mini trains it properly."""
    import datasets
    import torch

    from .models import load_model

    if cpu_threads is not None:
        torch.set_num_threads(cpu_threads)
    from trl import SFTConfig, SFTTrainer

    loaded = load_model(model_dir)
    args = SFTConfig(
        output_dir=str(out_dir),
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        lr_scheduler_type="cosine",
        warmup_steps=min(5, max_steps // 4),
        seed=seed,
        use_cpu=True,
        bf16=False,  # SFTConfig defaults to bf16 autocast, which is ~10x slower than float32 on a CPU
        report_to="none",
        save_strategy="no",
        logging_steps=max(1, max_steps // 10),
        disable_tqdm=not progress,
        completion_only_loss=True,
        gradient_checkpointing=False,  # TRL's SFT default; a 2M model has no memory to save, only time to lose
    )
    trainer = SFTTrainer(
        model=loaded.model,
        args=args,
        train_dataset=datasets.Dataset.from_list(sft_rows(problems)),
        processing_class=loaded.tokenizer,
    )
    if not progress:  # without a bar the Trainer prints every log dict (PrinterCallback): keep output quiet
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    trainer.train()
    out = Path(out_dir)
    trainer.save_model(str(out))
    loaded.tokenizer.save_pretrained(str(out))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m delta_core.mini OUTPUT_DIR`: write a randomly initialised checkpoint there."""
    from .cli import ArgumentParser, ensure_output_dir, user_errors

    prog = "python -m delta_core.mini"
    parser = ArgumentParser(prog=prog, description="Write a randomly initialised tiny Llama and its tokenizer.")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to write (created if missing)")
    args = parser.parse_args(argv)
    ensure_output_dir(prog, args.output_dir, "OUTPUT_DIR")  # before torch is imported
    with user_errors(prog, paths={"OUTPUT_DIR": args.output_dir}):
        out = save_mini(args.output_dir)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

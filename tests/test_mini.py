"""The tiny model of delta_core.mini: tokenizer round trip, chat template, and loading through load_model."""

import pytest

# transformers and tokenizers come with the cpu extra: a missing one is an install error, not a skip.
import tokenizers  # noqa: E402,F401
import transformers  # noqa: E402,F401

from delta_core.mini import CHAT_TEMPLATE, MiniConfig, build_tokenizer, compact_prompt, save_mini, solution_text  # noqa: E402
from delta_core.tasks import generate  # noqa: E402
from delta_core.tasks.prompt import build_prompt  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def test_round_trip_without_unknowns(tokenizer):
    for family, level, mode in [("starts_with", "basic", "two_color"), ("regex_pattern", "hard", "four_color")]:
        problem = generate(family, level, mode, n=1)[0]
        for text in (build_prompt(problem), problem.solution, compact_prompt(problem.criteria)):
            ids = tokenizer(text)["input_ids"]
            assert tokenizer.unk_token_id not in ids
            assert tokenizer.decode(ids) == text


def test_programs_are_short(tokenizer):
    # Colour letters and digits are single tokens; a basic solution is well under 100 tokens.
    problem = generate("starts_with", "basic", "two_color", n=3)[2]
    assert len(tokenizer(solution_text(problem.solution))["input_ids"]) < 60


def test_chat_template_and_eos(tokenizer):
    messages = [{"role": "user", "content": "Write a Manufactoria DSL program."}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>Write a Manufactoria DSL program.<|end|><|assistant|>"
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": "END end"}], tokenize=False)
    assert full.startswith(text) and full.endswith("END end<|end|>")
    assert tokenizer.eos_token == "<|end|>" and tokenizer.pad_token == "<pad>"
    assert tokenizer.chat_template == CHAT_TEMPLATE


def test_saved_model_loads_with_load_model(tmp_path):
    from delta_core.models import load_model

    path = save_mini(tmp_path / "mini", MiniConfig(hidden_size=32, num_hidden_layers=1, intermediate_size=64))
    loaded = load_model(path)
    assert loaded.model.config.model_type == "llama"
    assert loaded.tokenizer.eos_token_id == loaded.model.config.eos_token_id
    ids = loaded.tokenizer("Accept", return_tensors="pt")["input_ids"]
    out = loaded.model.generate(ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] <= ids.shape[1] + 3


def test_default_size_is_a_few_million_parameters():
    from delta_core.mini import build_model

    model = build_model(build_tokenizer())
    assert 1_000_000 < sum(p.numel() for p in model.parameters()) < 5_000_000

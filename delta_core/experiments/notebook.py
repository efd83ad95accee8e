"""What a chapter calls first so that its built page shows results, not library chatter.

`quiet()` turns off the progress bars of transformers ("Loading weights", "Writing model shards"),
datasets ("Tokenizing train dataset") and huggingface_hub, and transformers' advisory log messages
(e.g. the tokenizer's `clean_up_tokenization_spaces` notice). Warnings that concern a result are left
alone: a figure's layout warning, say, is fixed at its source, and `make check-book` fails on it.

    from delta_core.experiments.notebook import quiet
    quiet()
"""

from __future__ import annotations

import os

__all__ = ["quiet"]


def quiet() -> None:
    """No progress bars and no advisory logging from the Hugging Face libraries, from now on."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
    except ImportError:
        pass
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.utils.logging.set_verbosity_error()
    except ImportError:
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass

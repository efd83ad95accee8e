"""`python -m delta_core.train [config.yaml] [--resume] [--set key=value ...]`: the trainer's command line.

A bad config (a missing file, an unknown key, a value out of range, a run that cannot take one step,
a model that is not on disk) is one line on stderr, `python -m delta_core.train: error: ...`, exit 2,
before any model loads where it can be checked without one."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from .config import BackendUnavailableError, ConfigError, TrainConfig, load_config
from .run import train

__all__ = ["parse_cli", "main"]

PROG = "python -m delta_core.train"


def parse_cli(argv: Sequence[str]) -> tuple[TrainConfig, bool]:
    """`[config.yaml] [--resume] [--preset NAME] [--set key=value ...] [--key value | --key=value ...]`.

    Values are read as YAML (`--eval_k 4`, `--switch_step null`, `--curriculum_levels [easy,medium]`)."""
    import yaml

    argv = list(argv)
    if any(a in ("-h", "--help") for a in argv):
        print(parse_cli.__doc__ + "\n\nFields: " + ", ".join(f.name for f in dataclasses.fields(TrainConfig)))
        raise SystemExit(0)
    path, resume, pairs = None, False, []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--resume":
            resume = True
        elif token == "--set":
            if i + 1 == len(argv):
                raise ConfigError("--set needs key=value")
            pairs.append(argv[i + 1])
            i += 1
        elif token.startswith("--"):
            key = token[2:]
            if "=" in key:
                pairs.append(key)
            elif i + 1 < len(argv):
                pairs.append(f"{key}={argv[i + 1]}")
                i += 1
            else:
                raise ConfigError(f"--{key} needs a value")
        elif path is None and i == 0:
            path = token
        else:
            raise ConfigError(f"unexpected argument {token!r}; the config file comes first, then --key value")
        i += 1
    overrides: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        key = key.replace("-", "_")
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError as err:
            raise ConfigError(f"--{key} {raw!r}: not a YAML value ({getattr(err, 'problem', None) or err}); "
                              "quote it or write e.g. 4, 1e-4, null, [easy, medium]") from None
        # A YAML scalar such as `1e-4` loads as a string; numbers written that way are meant as numbers.
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        overrides[key] = value
    return load_config(path, overrides), resume


def _check_data(config: TrainConfig) -> None:
    """The family and levels exist (cheap; the run would otherwise find out after importing datasets)."""
    if config.family is None:
        return
    from ..tasks import LEVELS

    if config.family not in LEVELS:
        raise ConfigError(f"family={config.family!r}: unknown; choose one of {sorted(LEVELS)}")
    offered = LEVELS[config.family]
    for name, level in [("level", config.level)] + [("curriculum_levels", lv) for lv in config.curriculum_levels or []]:
        if level is None:
            continue
        if level not in offered:
            raise ConfigError(f"{name}={level!r}: {config.family} has the levels {', '.join(offered)}")
        if config.colour_mode not in offered[level].colour_modes:
            raise ConfigError(f"colour_mode={config.colour_mode!r}: {config.family} {level} offers "
                              f"{', '.join(offered[level].colour_modes)}")


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import ensure_output_dir, fail, user_errors

    try:
        config, resume = parse_cli(sys.argv[1:] if argv is None else argv)
        _check_data(config)
    except ConfigError as err:
        fail(PROG, str(err))
    if not resume:  # an output_dir that cannot be made fails now, not after the model has loaded
        ensure_output_dir(PROG, config.output_dir, "output_dir")

    # ConfigError: what train() checks before loading (output_dir, datasets, one step, the model);
    # an OSError only when it is about a path the config gave.
    paths = {"output_dir": config.output_dir, "dataset": config.dataset, "eval_dataset": config.eval_dataset,
             "model": config.model}
    with user_errors(PROG, ConfigError, BackendUnavailableError, paths=paths):
        summary = train(config, resume=resume)
    summary.pop("trainer")
    print(json.dumps({k: v for k, v in summary.items() if k != "last_train"}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

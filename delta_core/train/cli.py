"""`python -m delta_core.train [config.yaml] [--resume] [--set key=value ...]`: the trainer's command line."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from .config import BackendUnavailableError, ConfigError, TrainConfig, load_config
from .run import train

__all__ = ["parse_cli", "main"]


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
        value = yaml.safe_load(raw) if raw != "" else None
        # A YAML scalar such as `1e-4` loads as a string; numbers written that way are meant as numbers.
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        overrides[key] = value
    return load_config(path, overrides), resume


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config, resume = parse_cli(sys.argv[1:] if argv is None else argv)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    try:
        summary = train(config, resume=resume)
    except (ConfigError, BackendUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary.pop("trainer")
    print(json.dumps({k: v for k, v in summary.items() if k != "last_train"}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

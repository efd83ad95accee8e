"""delta_core: the library behind the DELTA Notebook Book.

Import what you need from its modules; nothing heavy (torch, transformers) is imported here.

- `delta_core.dsl`: the Manufactoria DSL (`parse_program`, `run_program`)
- `delta_core.judge`: the verifier (`judge`, `judge_many`, CLI `python -m delta_core.judge`); not
  re-exported here, so that `delta_core.judge` stays the module
- `delta_core.rewards`: TRL reward functions (`dense_reward`, `binary_reward`, `scheduled_reward`)
- `delta_core.render`: pictures and traces of programs for notebooks
"""

from .dsl import DSLSyntaxError, ExecutionResult, Program, parse_program, run_program
from .rewards import binary_reward, dense_reward, extract_program, scheduled_reward

__version__ = "0.1.0"

__all__ = [
    "DSLSyntaxError",
    "ExecutionResult",
    "Program",
    "parse_program",
    "run_program",
    "extract_program",
    "dense_reward",
    "binary_reward",
    "scheduled_reward",
]

"""delta_core: the library behind the DELTA Notebook Book.

Importing `delta_core` imports only the DSL (standard library only); everything else is a module or
package to import when needed. Bottom to top (a layer imports only the layers below it; see
tests/test_layering.py):

- `dsl`, `engine`, `judge`: the Manufactoria DSL, its interpreters and the verifier
- `tasks`: the problem families, levels, ensembles, prompts and exports
- `passk`, `artifacts`: the pass@k estimator; files written so a kill never loses them
- `rewards`: TRL reward functions, the dense -> binary `Schedule`, judging back-ends
- `bouncingsim`: the physics domain (oracle, tasks, sandbox, scoring)
- `render`: pictures and traces of programs for notebooks
- `models`, `mini`, `sampling`: loading models, the tiny CPU Llama, sampling k completions and pass@k
- `train`: the GRPO-with-schedule trainer on TRL
- `experiments`: the book's experiments (baseline, DELTA-mini, transfer, fidelity), built on the above
- `serve`: the verifier as an HTTP service
"""

from .dsl import DSLSyntaxError, ExecutionResult, Program, parse_program, run_program

__version__ = "0.1.0"

__all__ = [
    "DSLSyntaxError",
    "ExecutionResult",
    "Program",
    "parse_program",
    "run_program",
]

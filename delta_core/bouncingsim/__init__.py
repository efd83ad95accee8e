"""BouncingSim: predict where polygon balls bounce, scored against Box2D (spec part B).

- `scene`: the data model (`Scene`, `Container`, `Ball`, `Path`), JSON round-trip
- `oracle`: Box2D ground truth; `simulate` (one pass for all timestamps), `simulate_per_timestamp`
  (the reference's re-simulation, the benchmark baseline), `ground_truth`
- `families`: seeded generators for A, B, C, D, F, G, H, I and composites; `SPLITS`
- `prompt`: `build_prompt`, `make_record` (a dataset row)
- `sandbox`: `Sandbox`, a pool of isolated processes that run `predict_position` programs
- `scoring`: the 50 px rule computed outside the sandbox; TRL `dense_reward` / `binary_reward`
- `attacks`: the red-team programs the sandbox is tested against

Explained in notebooks/06_bouncingsim.ipynb.
"""

from .families import SPLITS, GenerationConfig, generate_scene
from .oracle import TIMESTAMPS, ground_truth, simulate, simulate_per_timestamp
from .prompt import build_prompt, make_record
from .sandbox import Sandbox, SandboxLimits
from .scene import Ball, Container, Path, Scene, scene_from_dict, scene_to_dict
from .scoring import binary_reward, check_distance, dense_reward, score_many, score_program

__all__ = [
    "Ball", "Container", "Path", "Scene", "scene_from_dict", "scene_to_dict",
    "TIMESTAMPS", "simulate", "simulate_per_timestamp", "ground_truth",
    "GenerationConfig", "generate_scene", "SPLITS",
    "build_prompt", "make_record",
    "Sandbox", "SandboxLimits",
    "check_distance", "score_program", "score_many", "dense_reward", "binary_reward",
]

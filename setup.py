"""Build the optional C accelerator `delta_core._fastdsl` (all other metadata is in pyproject.toml).

`optional=True`: on a machine without a C compiler `pip install` still succeeds and
`delta_core.engine` falls back to the literal interpreter (same results, ~50x slower).
CI exports DELTA_REQUIRE_FAST_ENGINE=1 so that tests/test_engine.py fails if the build was skipped.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "delta_core._fastdsl",
            sources=["delta_core/_fastdsl.c"],
            optional=True,
        )
    ]
)

"""Red-team programs for the sandbox: each tries to cheat or to escape, and must score 0.

Every attack is written so that it would score PERFECTLY if its trick worked: after the forbidden
step it returns the true answers, which the test substitutes for `{answer}` (a dict t -> positions),
or it relies on a checker, file or process it should not reach. A score of 0 therefore means the
trick was stopped, not that the program was merely wrong. `{outside}` is a path outside the scratch
directory that must not exist afterwards; `{secret}` is a file outside scratch that holds the answers.

Used by tests/test_bouncingsim_sandbox.py and run live in notebooks/06_bouncingsim.ipynb: a test tool that
stays in the importable package because that chapter imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Attack", "ATTACKS", "render"]


@dataclass(frozen=True)
class Attack:
    name: str
    goal: str
    program: str


def _after(step: str) -> str:
    """A program that performs `step` inside predict_position and, if it survives, answers correctly."""
    body = "\n".join("    " + line for line in step.strip().splitlines())
    return f"ANSWER = {{answer}}\ndef predict_position(t):\n{body}\n    return ANSWER[round(t, 1)]\n"


ATTACKS = (
    Attack("redefine the checker", "define check_distance so that every distance is 0 (the reference's hole)",
           "def check_distance(a, b):\n    return 0.0\n\ndef predict_position(t):\n    return [[0.0, 0.0]]\n"),
    Attack("monkey-patch builtins", "make abs, round, sum, math.dist and math.hypot return 0 before scoring",
           "import builtins, math\nfor name in ('abs', 'round', 'sum', 'min', 'max'):\n"
           "    setattr(builtins, name, lambda *a, **k: 0)\nmath.dist = math.hypot = lambda *a: 0.0\n"
           "def predict_position(t):\n    return [[-1e9, -1e9]]\n"),
    Attack("read the answers from a file", "open the dataset file that holds the expected positions",
           "import json\ndef predict_position(t):\n    with open({secret!r}) as f:\n"
           "        return json.load(f)[str(round(t, 1))]\n"),
    Attack("read the answers from the parent", "open /proc/<parent>/environ and /proc/<parent>/mem",
           _after("import os\nopen('/proc/%d/environ' % os.getppid(), 'rb').read()\n"
                  "open('/proc/%d/mem' % os.getppid(), 'rb')")),
    Attack("search memory for the answers", "walk frames and gc.get_objects() for the expected positions",
           "import gc, sys\ndef predict_position(t):\n    found = [o for o in gc.get_objects() if isinstance(o, list)]\n"
           "    frame = sys._getframe(1)\n    return found[0] if found else [[0, 0]]\n"),
    Attack("write outside scratch", "create a file next to the dataset",
           _after("with open({outside!r}, 'w') as f:\n    f.write('pwned')")),
    Attack("write with os.open", "os.open(O_CREAT | O_WRONLY) outside scratch",
           _after("import os\nos.close(os.open({outside!r}, os.O_CREAT | os.O_WRONLY, 0o644))")),
    Attack("path traversal", "escape the scratch directory with '..'",
           _after("open('../../../../../../' + {outside!r}.lstrip('/'), 'w').close()")),
    Attack("symlink out of scratch", "link a scratch name to a directory outside, then write through it",
           _after("import os\nos.symlink({outside_dir!r}, 'link')\nopen('link/pwned', 'w').close()")),
    Attack("chdir out of scratch", "change directory to /, then write a relative path",
           _after("import os\nos.chdir('/')\nopen({outside!r}.lstrip('/'), 'w').close()")),
    Attack("open a socket", "open a network connection (socket module, then _socket)",
           _after("s = __import__('socket').socket()\ns.connect(('127.0.0.1', 1))")),
    Attack("spawn a shell", "os.system, then subprocess",
           _after("import os\nos.system('touch ' + {outside!r})")),
    Attack("exec a new program", "replace the process with /bin/sh via os.execv",
           _after("import os\nos.execv('/bin/sh', ['sh', '-c', 'touch ' + {outside!r}])")),
    Attack("fork bomb", "fork until the machine runs out of processes",
           _after("import os\nwhile True:\n    os.fork()")),
    Attack("threads", "start threads that outlive the call (_thread is preloaded)",
           _after("import _thread\n_thread.start_new_thread(lambda: None, ())")),
    Attack("memory bomb", "allocate until the machine swaps",
           _after("blocks = []\nwhile True:\n    blocks.append(bytearray(100 * 2**20))")),
    Attack("infinite loop at import", "never finish defining the function",
           "while True:\n    pass\n"),
    Attack("infinite loop per call", "hang inside predict_position",
           "def predict_position(t):\n    while True:\n        pass\n"),
    Attack("sleep past the deadline", "wait instead of computing (no CPU time used)",
           _after("import time\ntime.sleep(30)")),
    Attack("huge output", "answer with a million balls to flood the pipe",
           "def predict_position(t):\n    return [[1.0, 2.0]] * 1_000_000\n"),
    Attack("print flood", "write gigabytes to stdout",
           _after("while True:\n    print('x' * 65536)")),
    Attack("os._exit", "leave before answering, with a success code",
           _after("import os\nos._exit(0)")),
    Attack("SystemExit", "raise SystemExit(0) and BaseException subclasses",
           _after("raise SystemExit(0)")),
    Attack("kill the parent", "SIGKILL the sandbox worker, its group and every process (-1)",
           _after("import os\nfor target in (os.getppid(), -1):\n    try:\n        os.kill(target, 9)\n"
                  "    except PermissionError:\n        pass\nos.killpg(0, 9)")),
    Attack("ignore the CPU-limit signals", "SIG_IGN on SIGXCPU and SIGTERM, then spin (_signal is preloaded)",
           "import _signal\nfor s in (_signal.SIGXCPU, _signal.SIGTERM, _signal.SIGALRM):\n"
           "    _signal.signal(s, _signal.SIG_IGN)\ndef predict_position(t):\n    while True:\n        pass\n"),
    Attack("import ctypes", "reach C to remove the audit hook",
           _after("import ctypes\nctypes.pythonapi")),
    Attack("pickle payload", "unpickle a payload that runs os.system",
           _after("import pickle\npickle.loads(b\"cos\\nsystem\\n(S'touch \" + {outside!r}.encode() + b\"'\\ntR.\")")),
    Attack("raise the limits", "setrlimit back to unlimited (resource is preloaded)",
           _after("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))")),
    Attack("disable the audit hook", "find the hook with gc and replace its code, or add a hook",
           _after("import sys, os\nsys.addaudithook(lambda *a: None)\nos.system('true')")),
    Attack("lying path object", "an os.PathLike that names scratch when checked and / when opened",
           _after("class P:\n    n = 0\n    def __fspath__(self):\n        P.n += 1\n"
                  "        return 'ok.txt' if P.n == 1 else {outside!r}\nopen(P(), 'w').close()\n"
                  "import os\nassert os.path.exists({outside!r})")),
    Attack("very deep recursion", "blow the C stack (recursion limit raised)",
           "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1) + 1\n"
           "def predict_position(t):\n    return f(0)\n"),
    Attack("forge result lines", "write fake answer lines straight to the result pipe, then exit",
           "import os\nfor i in range(15):\n    os.write(3, b'{{\"i\": %d, \"ok\": [[0.0, 0.0]]}}\\n' % i)\n"
           "os.write(3, b'{{\"i\": 0, \"ok\": [[1, 1]], \"passed\": true}}\\n')\nos._exit(0)\n"),
    Attack("non-finite numbers", "answer NaN and infinity so that any distance compares false",
           "def predict_position(t):\n    return [[float('nan'), float('inf')]]\n"),
    Attack("lying number objects", "a float subclass whose arithmetic says 'close'",
           "class F(float):\n    def __sub__(self, o):\n        return 0.0\n    __rsub__ = __sub__\n"
           "def predict_position(t):\n    return [[F(0), F(0)]]\n"),
)


def render(attack: Attack, answer: dict, outside: str, outside_dir: str, secret: str) -> str:
    """The attack's program text with its placeholders filled in."""
    return attack.program.format(answer=repr(answer), outside=outside, outside_dir=outside_dir, secret=secret)

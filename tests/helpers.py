"""Two ways to run the `nntrain` command in a test.

- `invoke(...)`: in this process, through typer's CliRunner. The default: for what a command prints (stdout and
  stderr apart), the exit code it chooses and the files it writes. About 0.4 s cheaper per call than a process.
- `run_process(...)`: a real `python -m nntrain` child process. Only for what a process alone shows: signals
  (Ctrl-C, SIGTERM, kill), resume after an interrupt, the exit status the interpreter reports, a fresh interpreter
  (what gets imported, a package missing from the path), k-fold worker processes (`--jobs 2`), pipes and terminals.

Both return an object with `returncode`, `stdout` and `stderr`, so a test reads the same either way. Both run with
COLUMNS=120 and stdout off a terminal, as in CI or a log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"COLUMNS": "120"}

# Python's own warning filters (no -W, no PYTHONWARNINGS), which a user's terminal sees; pytest replaces them with
# its own, which would hide a warning leaking into the output of an in-process command
_PYTHON_WARNING_FILTERS = (("default", DeprecationWarning, "__main__"), ("ignore", DeprecationWarning, None),
                           ("ignore", PendingDeprecationWarning, None), ("ignore", ImportWarning, None),
                           ("ignore", ResourceWarning, None))
# a module a command imported from here (a config's custom callbacks beside it in a test's tmp folder) is forgotten
# afterwards, as the next process would not know it; library modules stay loaded
_SCRATCH = Path(tempfile.gettempdir()).resolve()
# ...but never an installed library, even when the environment itself lives in the temporary folder (a fresh venv
# under /tmp): h5py, imported a second time in one process, fails to register its type converters
_INSTALLED = tuple({Path(p).resolve() for p in (sys.prefix, sys.base_prefix, *sysconfig.get_paths().values())})


@dataclass
class CliResult:
    """What a user sees of one command: exit status and the two streams."""

    returncode: int
    stdout: str
    stderr: str


def run_process(*args, cwd=None, timeout=300, env=None) -> subprocess.CompletedProcess:
    """`nntrain ARGS...` in a real child process (stdout and stderr are pipes, not a terminal).

    Use only where a real process is the point: signals, resume after an interrupt, the interpreter's exit status,
    fresh interpreter state, k-fold worker processes, pipes and terminals. Everything else: `invoke`.
    """
    full_env = {**os.environ, **ENV, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nntrain", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def invoke(*args, cwd=None, env=None) -> CliResult:
    """`nntrain ARGS...` in this process, seen as a user sees a process: the default way to run a command.

    The console script's entry point `nntrain.cli.main` runs inside typer's CliRunner isolation: stdout and stderr
    are captured apart and are not terminals (progress is plain lines, rich tables 120 columns wide, as in a pipe);
    sys.argv is `nntrain ARGS...` (run.json records it); `cwd` and `env` hold only for the call. As in a process, an
    exception the command lets escape is exit code 1 with its traceback on stderr, and warnings print to stderr
    under Python's default filters. Afterwards the test process is as it was: working folder, environment, signal
    handlers, sys.path, and no module of a tmp folder (a config's custom callbacks) left imported.
    """
    from typer.testing import CliRunner

    from nntrain.cli import main

    argv = [str(a) for a in args]
    with CliRunner().isolation(env={**ENV, **(env or {})}) as (out, err, _), _process_like(argv, cwd):
        code = _exit_status(main)
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return CliResult(code, stdout, stderr)


def _exit_status(main) -> int:
    """Call `main()` and return the status the interpreter would exit with, printing what it would print."""
    try:
        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - an uncaught error, as the interpreter reports it
        traceback.print_exc()
        return 1
    return 0


@contextmanager
def _process_like(argv: list[str], cwd):
    """sys.argv, working folder, warning display and signal handlers of a fresh `nntrain` process, restored
    afterwards (the console script sets the process's Ctrl-C/SIGTERM policy, which ends with a real process).
    Fails the test if the command left an environment variable or a sys.path entry changed."""
    before, argv_before, cwd_before, modules_before = _shared_state(), sys.argv, os.getcwd(), set(sys.modules)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sys.argv = ["nntrain", *argv]
    try:
        if cwd is not None:
            os.chdir(cwd)
        with warnings.catch_warnings():
            warnings.resetwarnings()
            for action, category, module in reversed(_PYTHON_WARNING_FILTERS):
                warnings.filterwarnings(action, category=category, module=module or "")
            warnings.showwarning = _print_warning
            yield
    finally:
        os.chdir(cwd_before)
        sys.argv = argv_before
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for name in set(sys.modules) - modules_before:
            file = getattr(sys.modules[name], "__file__", None)
            path = Path(file).resolve() if file else ROOT
            if path.is_relative_to(_SCRATCH) and not any(path.is_relative_to(p) for p in (ROOT, *_INSTALLED)):
                del sys.modules[name]
    after = _shared_state()
    leaked = [key for key in before if after[key] != before[key]]
    assert not leaked, f"`nntrain {' '.join(argv)}` changed the test process's {', '.join(leaked)}"


def _shared_state() -> dict:
    """What a command must leave as it found it in a long-lived process."""
    return {"environment": dict(os.environ), "sys.path": list(sys.path)}


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python's default warning display (pytest records warnings instead, which would hide them from stderr)."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
def refused(*args) -> str:
    """`nntrain ARGS` in-process: exit 2 and one `error:` paragraph, no traceback. Returns the message on one line."""
    from typer.testing import CliRunner

    from nntrain.cli.app import app

    result = CliRunner().invoke(app, [*map(str, args)])
    assert result.exit_code == 2, (result.output, result.exception)
    err = result.stderr.strip()
    assert err.startswith("error:") and "Traceback" not in result.output and "\n\n" not in err, err
    return " ".join(err.split())

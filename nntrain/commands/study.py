"""Everything nntrain asks of Optuna, in one module: the study in its storage (SQLite in the tune folder, or a
shared database), samplers and pruners from the search space, proposals, the trial counts and the plots.

Optuna is the optional extra `tune`; only `nntrain tune` (commands/tune.py) imports this module.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from pathlib import Path

from nntrain.config.search import Param, SearchSpace
from nntrain.errors import ConfigError

STUDY_FILE = "study.db"
COUNTED = ("COMPLETE", "PRUNED", "RUNNING")  # trials that count towards --trials; failed ones are retried
HOST = socket.gethostname()
STORAGE_ATTEMPTS = 5


def optuna():
    """The optuna module, quiet; a ConfigError naming the extra when it is not installed."""
    try:
        import optuna as module
    except ImportError:
        raise ConfigError("nntrain tune needs Optuna: pip install 'nntrain[tune]'") from None
    module.logging.set_verbosity(module.logging.WARNING)
    warnings.filterwarnings("ignore", category=module.exceptions.ExperimentalWarning)
    return module


def storage_url(tune_dir: Path, storage: str | None) -> str:
    """The study's database: `storage` as given, or the SQLite file study.db inside the tune folder."""
    return storage or f"sqlite:///{(Path(tune_dir) / STUDY_FILE).resolve()}"


def shown_url(url: str) -> str:
    """A database URL with its password hidden, for messages and tune.json."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL sqlalchemy reads: shown as given, it holds no password field
        return url


def _sqlite_connector(url: str):
    """SQLite connections in WAL mode with synchronous=NORMAL: a commit (several per trial) then costs no fsync,
    and readers never block the writer; still safe when a process is killed (not against a power cut)."""
    import sqlite3

    path = url.removeprefix("sqlite:///")

    def connect():
        connection = sqlite3.connect(path, timeout=60, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    return connect


def _with_driver(url: str) -> str:
    """postgresql://... with the PostgreSQL driver that is installed: SQLAlchemy 2.1 defaults to psycopg 3, the
    tune extra installs psycopg2 (either works; an explicit postgresql+DRIVER:// is kept)."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def storage(url: str):
    """Optuna's RDB storage for `url` (made once per process: opening it checks the schema)."""
    o = optuna()
    given, url = url, _with_driver(url)
    kwargs = ({"creator": _sqlite_connector(url)} if url.startswith("sqlite:///") else {"pool_pre_ping": True})
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return o.storages.RDBStorage(url, engine_kwargs=kwargs)
        except ImportError as exc:  # a database driver that is not installed (psycopg2 for postgresql://)
            raise ConfigError(f"--storage {shown_url(given)}: {exc}; for PostgreSQL: pip install 'nntrain[tune]'"
                              ) from None
        except Exception as exc:  # noqa: BLE001 - sqlalchemy's many errors: a race, or the user's to fix
            if _creating_race(exc) and attempt < STORAGE_ATTEMPTS - 1:
                time.sleep(0.5 * (attempt + 1))  # a worker starting at the same moment made the tables: use them
                continue
            raise ConfigError(f"--storage {shown_url(given)}: cannot open the study database "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def _creating_race(exc: Exception) -> bool:
    """Whether `exc` is two processes creating the study tables at once (the loser's IntegrityError, "already
    exists", or a locked SQLite file)."""
    text = str(exc).lower()
    return type(exc).__name__ in ("IntegrityError", "ProgrammingError", "OperationalError") and (
        "duplicate" in text or "already exists" in text or "locked" in text or "unique" in text)


def sampler(space: SearchSpace, seed: int | None):
    o = optuna()
    spec = dict(space.sampler)
    name = spec.pop("name")
    if name == "grid":
        class Grid(o.samplers.GridSampler):
            def after_trial(self, study, trial, state, values):
                """Nothing: Optuna's stops optimize() when the grid is done; tune counts the trials itself."""

        return Grid({p.path: p.grid() for p in space.params}, seed=seed)
    if name == "random":
        return o.samplers.RandomSampler(seed=seed)
    return o.samplers.TPESampler(seed=seed, **spec)


def pruner(space: SearchSpace, epochs: int):
    o = optuna()
    spec = dict(space.pruner)
    name = spec.pop("name")
    if name == "median":
        return o.pruners.MedianPruner(**spec)
    if name == "successive_halving":
        return o.pruners.SuccessiveHalvingPruner(**spec)
    if name == "hyperband":
        return o.pruners.HyperbandPruner(max_resource=epochs, **spec)
    return o.pruners.NopPruner()


def open_study(url: str, name: str, direction: str, space: SearchSpace, seed: int | None, epochs: int):
    """The study `name` in `url`, created when new; its direction must be the objective's."""
    o = optuna()
    store = storage(url)
    way = "maximize" if direction == "up" else "minimize"
    for attempt in range(5):  # workers starting together may both try to create it
        try:
            study = o.create_study(storage=store, study_name=name, direction=way, load_if_exists=True,
                                   sampler=sampler(space, seed), pruner=pruner(space, epochs))
            break
        except o.exceptions.DuplicatedStudyError:
            time.sleep(0.2 * (attempt + 1))
    else:
        raise ConfigError(f"study {name!r} in {shown_url(url)} could not be created or loaded")
    if study.direction.name.lower() != way:
        raise ConfigError(f"study {name!r} in {shown_url(url)} is set to {study.direction.name.lower()}, but the "
                          f"objective {space.objective!r} wants to {way}; use another --study name")
    return study


def state_names(study, states) -> list:
    o = optuna()
    return study.get_trials(deepcopy=False, states=tuple(getattr(o.trial.TrialState, s) for s in states))


def counted(study) -> int:
    """Trials that count towards --trials: finished, pruned, or running now."""
    return len(state_names(study, COUNTED))


def surplus(study, trial, target: int) -> bool:
    """Whether `trial` is beyond `target`: workers that asked at the same moment keep the lowest numbers."""
    ahead = [t for t in state_names(study, COUNTED) if t.number < trial.number]
    return len(ahead) >= target


def suggest(trial, p: Param):
    """The trial's value for one parameter."""
    if p.kind == "choice":
        return trial.suggest_categorical(p.path, p.choices)
    if p.kind == "int":
        return trial.suggest_int(p.path, p.low, p.high, step=p.step or 1, log=p.log)
    return trial.suggest_float(p.path, float(p.low), float(p.high), step=p.step, log=p.log)


def mark_worker(trial, run_dir: Path) -> None:
    """Where the trial runs: this host, this process and its run folder (the leaderboard shows it). One write:
    each is a database commit."""
    trial.set_user_attr("worker", {"host": HOST, "pid": os.getpid(), "run_dir": str(Path(run_dir).resolve())})


def mark_result(trial, **result) -> None:
    """How the trial ended (epochs, seconds, message, interrupted, ...), in one write."""
    trial.set_user_attr("result", result)


def attrs(trial) -> dict:
    """What nntrain recorded of a trial: its worker and its result in one mapping."""
    return {**trial.user_attrs.get("worker", {}), **trial.user_attrs.get("result", {}),
            **({"retry_of": trial.user_attrs["retry_of"]} if "retry_of" in trial.user_attrs else {})}


def fail_abandoned(study) -> list[int]:
    """Trials left running by a process of this host that no longer runs (killed): marked failed, so they neither
    count nor block. Returns their numbers."""
    from nntrain.runs import process_alive

    o = optuna()
    gone = []
    for t in state_names(study, ("RUNNING",)):
        if attrs(t).get("host") == HOST and not process_alive(int(attrs(t).get("pid", 0))):
            study._storage.set_trial_user_attr(t._trial_id, "result", {"message": "its process ended without "
                                                                                  "recording it"})
            study._storage.set_trial_state_values(t._trial_id, o.trial.TrialState.FAIL)
            gone.append(t.number)
    return gone


def requeue_interrupted(study) -> list[int]:
    """Trials an interrupt discarded are proposed again, once each, before anything new."""
    done = set(study.user_attrs.get("requeued", []))
    again = [t for t in state_names(study, ("FAIL",)) if attrs(t).get("interrupted") and t.number not in done
             and t.params]
    for t in again:
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    if again:
        study.set_user_attr("requeued", sorted(done | {t.number for t in again}))
    return [t.number for t in again]


def plots(study, folder: Path) -> list[Path]:
    """Optuna's matplotlib charts of the study as PNGs in `folder` (the plot extra); those a study cannot draw yet
    (one finished trial: no importances) are left out."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nntrain import runs

    vis = optuna().visualization.matplotlib
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for name, draw in (("optimization_history", vis.plot_optimization_history),
                       ("param_importances", vis.plot_param_importances),
                       ("parallel_coordinate", vis.plot_parallel_coordinate), ("slice", vis.plot_slice)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError):  # too few finished trials for this chart
            plt.close("all")
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(max(6.4, figure.get_figwidth()), 4.8)
        path = folder / f"{name}.png"
        with runs.atomic_file(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        plt.close("all")
        written.append(path)
    return written

"""Runs: run folders (folder.py), HDF5 checkpoints (checkpoint.py), a trained run loaded back (trained.py) and the
`nntrain runs` table (table.py). The run-folder functions are re-exported here, so `runs.write_json(...)` works."""

from nntrain.runs.folder import (
    atomic_write_text,
    blas_info,
    check_run_name,
    new_run_dir,
    process_alive,
    read_history_csv,
    read_json,
    run_info,
    temporary_path,
    timestamp,
    write_history_csv,
    write_json,
)

__all__ = ["atomic_write_text", "blas_info", "check_run_name", "new_run_dir", "process_alive", "read_history_csv",
           "read_json", "run_info", "temporary_path", "timestamp", "write_history_csv", "write_json"]

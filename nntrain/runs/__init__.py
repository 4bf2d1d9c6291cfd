"""Runs: run folders (folder.py), HDF5 checkpoints (checkpoint.py), a trained run loaded back (trained.py) and the
`nntrain runs` table (table.py). The run-folder functions are re-exported here, so `runs.write_json(...)` works."""

from nntrain.runs.folder import (
    atomic_file,
    atomic_write_text,
    blas_info,
    check_free_space,
    check_run_name,
    clean,
    mark_unfinished,
    new_run_dir,
    process_alive,
    read_history_csv,
    read_json,
    remove_stale_temporaries,
    run_info,
    storage_error,
    temporary_path,
    timestamp,
    write_history_csv,
    write_json,
    write_npz,
)

__all__ = ["atomic_file", "atomic_write_text", "blas_info", "check_free_space", "check_run_name", "clean",
           "mark_unfinished", "new_run_dir", "process_alive", "read_history_csv", "read_json", "remove_stale_temporaries",
           "run_info", "storage_error", "temporary_path", "timestamp", "write_history_csv", "write_json", "write_npz"]

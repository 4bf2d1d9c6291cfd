"""nntrain's commands as plain functions that return what they did; the CLI renders it (nothing here prints)."""

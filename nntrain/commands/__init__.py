"""What each nntrain command does, as plain functions the CLI and tests call; session.train_run trains one run."""

"""Training: the fit / evaluate / predict loop, callbacks and the progress display."""

"""Fan-out benchmark of the Mimo gateway against three baselines; run `python -m bench`."""

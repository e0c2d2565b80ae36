"""`make bench` (python -m bench) and the load generators it and `make load` drive."""

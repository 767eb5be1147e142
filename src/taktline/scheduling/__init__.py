"""Scheduling for Taktline: the database side of the solver (load the problem, propose,
apply, analyse the bottleneck) and its API."""

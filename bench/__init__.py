"""Benchmarks of the `$disconnect` handler and the sweeper against the seed's handler (`make bench`)."""

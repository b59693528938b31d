"""Hypothesis profiles for the property tests.

`properties` is what CI runs: derandomised, so a red build reproduces with the same
examples, and no example database, so no `.hypothesis/` folder appears in the working
tree. `PROPERTIES_PROFILE=properties-thorough` gives every test ten times the examples,
freshly drawn, for hunting bugs locally.

The tests take these settings explicitly (`strategies.properties`) rather than through
`settings.load_profile`, which would change the defaults of every other hypothesis test
collected in the same session.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "properties",
    database=None,
    derandomize=True,
    deadline=None,
    print_blob=True,
    # Real reports are large inputs to draw from; that slowness is the point.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "properties-thorough",
    parent=settings.get_profile("properties"),
    derandomize=False,
    max_examples=1000,
)

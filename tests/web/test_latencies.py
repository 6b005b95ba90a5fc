"""The request latency histogram counts exactly as a Prometheus histogram does."""

from aioprometheus import histogram
from hypothesis import given, settings
from hypothesis import strategies as st

from b3scale.web.metrics import LATENCY_BUCKETS, Latencies


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(LATENCY_BUCKETS) | st.floats(min_value=0, max_value=100), max_size=50)
)
def test_latencies_count_as_a_prometheus_histogram(values: list[float]) -> None:
    reference = histogram.Histogram(*LATENCY_BUCKETS)
    ours = Latencies()
    for value in values:
        reference.observe(value)
        ours.observe(value)
    assert ours.cumulative() == list(reference.buckets.values())
    assert (ours.sum, ours.observations) == (reference.sum, reference.observations)

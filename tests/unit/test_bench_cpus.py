"""The bench's CPU lists read as taskset reads them."""

import pytest

from bench.cpus import named, parse


def test_cpu_lists_read_as_taskset_reads_them() -> None:
    assert parse("0") == {0}
    assert parse("0-3") == {0, 1, 2, 3}
    assert parse("0, 2-3,5") == {0, 2, 3, 5}
    assert named(parse("1")) == "CPU 1"
    assert named(parse("1,0")) == "CPUs 0,1"


@pytest.mark.parametrize("cpu_list", ["", ",", "a", "1-"])
def test_a_list_without_cpus_is_refused(cpu_list: str) -> None:
    with pytest.raises(ValueError):
        parse(cpu_list)

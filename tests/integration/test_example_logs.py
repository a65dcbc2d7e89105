"""The example's log parser: the wasm kernel agrees with the pure-Python reference."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.building import import_example


@pytest.fixture(scope="module")
def logs(example_site: Path) -> ModuleType:
    """wasm_example built by the real pipeline (once per session), imported here."""
    return import_example(example_site)


def _both(logs: ModuleType, data: bytes) -> object:
    kernel, reference = logs.parse_logs(data), logs.parse_logs_python(data)
    assert kernel == reference, data[:300]
    return kernel


GOOD = '{"ts":"2024-09-15T10:30:00Z","level":"ERROR","ip":"10.0.0.42","msg":"disk full"}'

# (line, valid?) by the rules in wasm_example/logs.py, one rule per row
CASES = [
    (GOOD, True),
    ('{"msg":"x","ip":"10.0.0.1","level":"info","ts":"2024-09-15T10:30:00Z"}', True),  # reordered keys
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO"}', True),  # no ip
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","msg":"tab\\t\\"q\\" \\\\ \\u00e9 \\ud83d\\ude00"}', True),  # escapes
    ('{"ts":"2024-09-15T10:30:00.123456Z","level":"DEBUG","ip":"2001:db8::1"}', True),  # fraction, IPv6
    ('{"ts":"2024-09-15T12:30:00+02:00","level":"warn"}', True),  # offset
    ('{"ts":"2024-09-15T05:00:00-05:30","level":" Warning\\t"}', True),  # negative offset, trimmed level
    ('{"ts":"2024-02-29T00:00:00Z","level":"fatal"}', True),  # leap day
    ('{"ts":"2024-09-15T10:30:00Z","level":"notice"}', True),  # OTHER
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","extra":{"a":[1,2.5e3,-0.1,true,false,null,{}]}}', True),
    ('{"ts":"1999-01-01T00:00:00Z","ts":"2024-09-15T10:30:00Z","level":"INFO"}', True),  # last key wins
    ('{"\\u0074s":"2024-09-15T10:30:00Z","level":"INFO"}', True),  # escaped key
    ('  {"ts":"2024-09-15T10:30:00Z","level":"INFO"}  \r', True),  # surrounding blanks
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","ip":"' + "a" * 64 + '"}', True),  # 64-byte ip
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","ip":"' + "a" * 65 + '"}', False),  # 65 bytes
    ('{"ts":"2024-09-15T10:30:00Z"}', False),  # no level
    ('{"level":"INFO"}', False),  # no ts
    ('{"ts":"2024-09-15T10:30:00Z","level":5}', False),  # level not a string
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","ip":null}', False),  # ip not a string
    ('{"ts":"2024-09-15 10:30:00Z","level":"INFO"}', False),  # space, not T
    ('{"ts":"2024-09-15T10:30:00","level":"INFO"}', False),  # no zone
    ('{"ts":"2024-09-15T10:30:00z","level":"INFO"}', False),  # lower-case z
    ('{"ts":"2023-02-29T00:00:00Z","level":"INFO"}', False),  # no such day
    ('{"ts":"2024-09-15T24:00:00Z","level":"INFO"}', False),
    ('{"ts":"2024-09-15T23:59:60Z","level":"INFO"}', False),  # leap second
    ('{"ts":"2024-09-15T10:30:00+24:00","level":"INFO"}', False),
    ('{"ts":"2024-09-15T10:30:00.Z","level":"INFO"}', False),
    ('{"ts":"0000-01-01T00:00:00Z","level":"INFO"}', False),
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","n":NaN}', False),
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","n":01}', False),
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO",}', False),  # trailing comma
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO"} x', False),  # trailing garbage
    ('{"ts":"2024-09-15T10:30:00Z","level":"IN\x01FO"}', False),  # raw control character
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","m":"\\x"}', False),  # bad escape
    (GOOD[:40], False),  # truncated
    ("[1,2,3]", False),
    ("garbage \x00\xff", False),
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","d":' + "[" * 64 + "]" * 64 + "}", True),  # depth 64
    ('{"ts":"2024-09-15T10:30:00Z","level":"INFO","d":' + "[" * 65 + "]" * 65 + "}", False),  # depth 65
]


@pytest.mark.parametrize(("line", "valid"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_rules(logs: ModuleType, line: str, valid: bool) -> None:
    stats = _both(logs, line.encode("utf-8", "surrogatepass"))
    assert (stats.lines, stats.malformed) == (1, 0 if valid else 1)


def test_invalid_utf8_and_surrogates(logs: ModuleType) -> None:
    bad = b'{"ts":"2024-09-15T10:30:00Z","level":"INFO","msg":"\xed\xa0\x80"}'  # an encoded surrogate
    assert _both(logs, bad).malformed == 1
    lone = b'{"ts":"2024-09-15T10:30:00Z","level":"INFO","ip":"\\ud800"}\n{"ts":"2024-09-15T10:30:00Z","level":"INFO","ip":"\\ud800x"}'
    assert _both(logs, lone).distinct_ips == 2


def test_summary_values(logs: ModuleType) -> None:
    lines = [
        GOOD,
        '{"ts":"2024-09-15T12:30:00+02:00","level":"warning","ip":"10.0.0.42"}',
        '{"ts":"1970-01-01T00:00:10Z","level":"Err","ip":"2001:DB8::1"}',
        '{"ts":"2024-09-15T10:30:00Z","level":"INFO","ip":"2001:db8::1"}',
        "",
        "not json",
    ]
    data = "\n".join(lines).encode()
    stats = _both(logs, data)
    assert (stats.lines, stats.malformed, stats.valid, stats.distinct_ips) == (5, 1, 4, 2)
    assert stats.levels == {"DEBUG": 0, "INFO": 1, "WARN": 1, "ERROR": 2, "CRITICAL": 0, "OTHER": 0}
    assert (stats.ts_min, stats.ts_max, stats.ts_sum) == (10, 1726396200, 3 * 1726396200 + 10)
    empty = _both(logs, b"\n \n")
    assert (empty.lines, empty.ts_min, empty.ts_max) == (0, None, None)


def _random_line(rng: random.Random) -> str:
    record: dict[str, object] = {}
    if rng.random() < 0.95:
        zone = rng.choice(["Z", "+02:00", "-05:30", "+00:00"])
        frac = rng.choice(["", ".5", ".123456"])
        record["ts"] = (
            f"{rng.randint(1970, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 31):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{frac}{zone}"
        )
    if rng.random() < 0.95:
        record["level"] = rng.choice(
            ["DEBUG", "info", "Warn", "WARNING", "error", "ERR", "critical", "FATAL", "trace", " INFO "]
        )
    if rng.random() < 0.8:
        record["ip"] = rng.choice(
            [
                f"10.0.{rng.randint(0, 3)}.{rng.randint(0, 255)}",
                f"2001:DB8::{rng.randint(0, 99):x}",
                f"2001:db8::{rng.randint(0, 99):x}",
            ]
        )
    record["msg"] = "".join(rng.choice('ab "\\\n\té€😀') for _ in range(rng.randint(0, 20)))
    items = list(record.items())
    rng.shuffle(items)
    line = json.dumps(dict(items), ensure_ascii=rng.random() < 0.5)
    r = rng.random()
    if r < 0.05:
        line = line[: rng.randint(0, len(line))]  # truncated
    elif r < 0.08:
        line = line.replace('"', "'", 1)  # garbage
    elif r < 0.10:
        line = ""
    return line


def test_generated_corpus_agrees(logs: ModuleType) -> None:
    rng = random.Random(20241124)
    data = "\n".join(_random_line(rng) for _ in range(20_000)).encode()
    stats = _both(logs, data)
    assert stats.malformed > 100 and stats.valid > 10_000 and stats.distinct_ips > 300


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_random_bytes_agree(logs: ModuleType, data: bytes) -> None:
    _both(logs, data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=0, max_value=255),
    st.sampled_from([c[0] for c in CASES]),
)
def test_mutated_lines_agree(logs: ModuleType, position: int, byte: int, line: str) -> None:
    raw = bytearray(line.encode("utf-8", "surrogatepass"))
    if raw:
        raw[position % len(raw)] = byte
    _both(logs, bytes(raw) + b"\n" + bytes(raw[: position % (len(raw) + 1)]))


def test_large_buffer(logs: ModuleType) -> None:
    rng = random.Random(7)
    lines = [_random_line(rng) for _ in range(2000)]
    data = ("\n".join(lines * 50)).encode()  # 100,000 lines
    stats = _both(logs, data)
    assert stats.lines > 90_000

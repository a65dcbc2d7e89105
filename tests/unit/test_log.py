"""The build's log lines: per-module loggers under ``wasm_ext``, every message prefixed once."""

from __future__ import annotations

import logging

import pytest

from wasm_ext.log import PREFIX, get_logger


def test_messages_are_prefixed_once_and_propagate_to_wasm_ext(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("wasm_ext.builder.example")
    with caplog.at_level(logging.INFO, logger="wasm_ext"):
        log.info("%s: %d bytes", "pkg.k", 5)
        log.warning("careful")
    assert caplog.messages == ["wasm-ext: pkg.k: 5 bytes", "wasm-ext: careful"]
    assert [r.name for r in caplog.records] == ["wasm_ext.builder.example"] * 2
    assert PREFIX == "wasm-ext: "


def test_below_the_level_nothing_is_formatted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="wasm_ext"):
        get_logger("wasm_ext.x").info("hidden")
    assert caplog.messages == []

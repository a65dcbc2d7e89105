"""Stub templates of setuptools-wasm, installed as the package ``wasm_ext.templates``.

Jinja2 templates, filled in by :mod:`wasm_ext.builder.stubgen` from the prepared model
of :mod:`wasm_ext.builder.codegen`: ``stub.py.j2`` (the module users import),
``stub.pyi.j2`` (its types), ``kernel.j2`` (one kernel function: checks, slots, call,
result) and ``sandbox.j2`` (the ``Sandbox`` class and ``sandbox()``, for both files).
"""

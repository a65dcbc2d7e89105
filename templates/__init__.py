"""Stub templates of setuptools-wasm, installed as the package ``wasm_ext.templates``.

``string.Template`` files: ``stub.py.tmpl`` (the module users import) and
``stub.pyi.tmpl`` (its type stub). :mod:`wasm_ext.build.stubgen` fills them in.
"""

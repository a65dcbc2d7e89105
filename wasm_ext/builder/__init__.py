"""The build side: one module per pipeline stage, run in order by :mod:`.pipeline`.

Nothing here is imported by built packages at run time; see :mod:`wasm_ext.runtime`.
"""

"""Example package: its kernels (``wasm_example.kernels``) are C compiled to WebAssembly."""

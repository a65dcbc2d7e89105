// The demo page: Pyodide from this server, the example wheel installed as is, Python calls the
// wasm log parser (wasm_example.logs.parse_logs) in this browser's WebAssembly engine.
// Query parameters (paths on this server): pyodide=<directory of pyodide.mjs>/, wheel=<.whl>
const q = new URLSearchParams(location.search);
const PYODIDE = new URL(q.get("pyodide") ?? "pyodide/", location.href).href;
const WHEEL = new URL(q.get("wheel") ?? "wasm_ext_example-0.1.0-py3-none-any.whl", location.href).href;
const status = document.getElementById("status");
const button = document.getElementById("run");

function fail(err) {
  status.className = "error";
  status.textContent = `Error: ${err && err.message ? err.message : err}`;
  document.body.dataset.state = "error";
  console.error(err);
}

let pyodide;
try {
  const t0 = performance.now();
  const { loadPyodide } = await import(new URL("pyodide.mjs", PYODIDE).href);
  pyodide = await loadPyodide({ indexURL: PYODIDE });
  await pyodide.loadPackage(WHEEL); // the same py3-none-any wheel pip installs on CPython
  const demo = await (await fetch(new URL("demo.py", import.meta.url))).text();
  pyodide.FS.mkdirTree("/home/pyodide");
  pyodide.FS.writeFile("/home/pyodide/demo.py", demo);
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide'); import demo");
  window.pyodide = pyodide; // for the browser test (it runs demo.bench())
  status.textContent = `Ready: Python ${pyodide.version} in ${((performance.now() - t0) / 1000).toFixed(1)} s.`;
  button.disabled = false;
  document.body.dataset.state = "ready";
} catch (err) {
  fail(err);
}

button.addEventListener("click", () => {
  try {
    const t = performance.now();
    const result = JSON.parse(pyodide.runPython("demo.run")(document.getElementById("logs").value));
    const cell = (v) => (v === null ? "–" : String(v));
    const rows = result.rows.map(([k, v]) => `<tr><th>${k}</th><td class="num">${cell(v)}</td></tr>`).join("");
    document.getElementById("out").innerHTML =
      `<table id="stats"><thead><tr><th>statistic</th><th>value</th></tr></thead><tbody>${rows}</tbody></table>`;
    status.className = "";
    status.textContent =
      `Done in ${(performance.now() - t).toFixed(1)} ms (wasm kernel ${result.kernel_ms} ms; ` +
      `agrees with the pure-Python reference: ${result.agrees_with_reference ? "yes" : "NO"}).`;
    window.demoResult = result;
    document.body.dataset.state = "done";
  } catch (err) {
    fail(err);
  }
});

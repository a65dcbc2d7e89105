// Run a Python check script inside Pyodide (sys.platform == "emscripten") under Node, offline.
//
//   node run_node.mjs [--wheel /abs/path/x-py3-none-any.whl]... [--file /abs/path.py]... check.py [args...]
//
// Loads pyodide from the repository's node_modules, installs each local wheel (loadPackage), copies each
// --file into /home/pyodide (on sys.path), then runs check.py as __main__ with sys.argv set.
// Exit code: 0 if the script ran to the end (or SystemExit(0)), 1 on any Python exception or
// non-zero SystemExit, 2 on usage errors, 3 if anything tried to reach the network.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const PYODIDE_DIR = path.join(here, "..", "..", "node_modules", "pyodide"); // pinned in package-lock.json
const networkAttempts = [];

// ---- no network: fail loudly on any attempt -----------------------------------------------
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) {
    return realFetch(input, init);
  }
  networkAttempts.push(url);
  console.error(`run_node: BLOCKED network fetch: ${url}`);
  throw new Error(`run_node: network access is forbidden (fetch ${url})`);
};
const realConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const opts = typeof args[0] === "object" && args[0] !== null ? args[0] : { port: args[0], host: args[1] };
  const host = opts.host ?? "localhost";
  if (!opts.path && !["127.0.0.1", "::1", "localhost"].includes(host)) {
    networkAttempts.push(`${host}:${opts.port}`);
    console.error(`run_node: BLOCKED socket connect to ${host}:${opts.port}`);
    throw new Error(`run_node: network access is forbidden (connect ${host}:${opts.port})`);
  }
  return realConnect.apply(this, args);
};
// Pyodide reports failed package fetches through console output, not exceptions: watch it.
const suspicious = /fetch failed|Failed to fetch|network access is forbidden|\bENOTFOUND\b|\bEAI_AGAIN\b|\bECONNREFUSED\b/;
const consoleHits = [];
for (const level of ["log", "warn", "error", "info"]) {
  const orig = console[level].bind(console);
  console[level] = (...a) => {
    const text = a.map(String).join(" ");
    if (suspicious.test(text) && !text.startsWith("run_node:")) consoleHits.push(text);
    orig(...a);
  };
}

// ---- arguments ------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const wheels = [];
const files = [];
while (argv.length && argv[0].startsWith("--")) {
  const flag = argv.shift();
  const value = argv.shift();
  if (value === undefined) usage();
  if (flag === "--wheel") wheels.push(path.resolve(value));
  else if (flag === "--file") files.push(path.resolve(value));
  else usage();
}
if (!argv.length) usage();
const script = path.resolve(argv[0]);
const scriptArgs = argv.slice(1);
function usage() {
  console.error("usage: node run_node.mjs [--wheel X.whl]... [--file X.py]... check.py [args...]");
  process.exit(2);
}

// ---- run --------------------------------------------------------------------------------------
const t0 = performance.now();
const { loadPyodide } = await import(pathToFileURL(path.join(PYODIDE_DIR, "pyodide.mjs")).href);
const pyodide = await loadPyodide({
  indexURL: PYODIDE_DIR + "/",
  packageBaseUrl: PYODIDE_DIR + "/", // never a CDN
  // Python's own output goes straight to the streams (not scanned for network errors).
  stdout: (s) => process.stdout.write(s + "\n"),
  stderr: (s) => process.stderr.write(s + "\n"),
});
const t1 = performance.now();
for (const wheel of wheels) {
  if (!fs.existsSync(wheel)) {
    console.error(`run_node: no such wheel: ${wheel}`);
    process.exit(2);
  }
  await pyodide.loadPackage(wheel); // the wheel file itself, as the browser page installs it
}
const t2 = performance.now();
pyodide.FS.mkdirTree("/home/pyodide");
for (const f of files) pyodide.FS.writeFile(`/home/pyodide/${path.basename(f)}`, fs.readFileSync(f));
pyodide.FS.writeFile("/home/pyodide/__check__.py", fs.readFileSync(script));
console.error(
  `run_node: pyodide ${pyodide.version} loaded in ${(t1 - t0).toFixed(0)} ms, ` +
    `${wheels.length} wheel(s) installed in ${(t2 - t1).toFixed(0)} ms`,
);

let code = 0;
try {
  pyodide.globals.set("_run_node_argv", pyodide.toPy([script, ...scriptArgs]));
  const rc = pyodide.runPython(`
import os, runpy, sys
sys.argv = list(_run_node_argv)
os.chdir("/home/pyodide")
if "/home/pyodide" not in sys.path:
    sys.path.insert(0, "/home/pyodide")
_rc = 0
try:
    runpy.run_path("/home/pyodide/__check__.py", run_name="__main__")
except SystemExit as e:
    _rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if e.code not in (None, 0) and not isinstance(e.code, int):
        print(e.code, file=sys.stderr)
_rc
`);
  code = rc ? 1 : 0;
} catch (err) {
  console.error(String(err && err.message ? err.message : err));
  code = 1;
}
if (networkAttempts.length || consoleHits.length) {
  console.error(`run_node: FAIL: network was attempted: ${JSON.stringify([...networkAttempts, ...consoleHits])}`);
  code = 3;
}
console.error(`run_node: exit ${code} after ${(performance.now() - t0).toFixed(0)} ms`);
process.exit(code);

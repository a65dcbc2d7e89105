// Browser test of the demo page: Debian's chromium, driven by playwright-core, fully offline.
//
//   node browser_test.mjs SCREENSHOT.png --root DIR [--page /index.html?...] [--chromium PATH]
//
// Serves DIR (the demo page of example_project/web/ with pyodide/ and the example wheel beside
// it; tests/test_pyodide.py assembles it) on 127.0.0.1 at a random port, opens the page, waits
// until Python is ready, clicks Run, waits for the stats table, prints {"stats": {...}, ...} as
// JSON on stdout, saves a screenshot. Any request not to 127.0.0.1 is aborted and fails the test.
// Exit codes: 0 ok, 1 test failure, 2 usage, 3 a non-local request was attempted.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";

const argv = process.argv.slice(2);
let root;
let page_ = "/index.html";
let executablePath = process.env.CHROMIUM ?? "/usr/lib/chromium/chromium";
let screenshot;
while (argv.length) {
  const a = argv.shift();
  if (a === "--root") root = path.resolve(argv.shift());
  else if (a === "--page") page_ = argv.shift();
  else if (a === "--chromium") executablePath = argv.shift();
  else if (!screenshot && !a.startsWith("--")) screenshot = path.resolve(a);
  else {
    console.error(`usage: node browser_test.mjs SCREENSHOT.png --root DIR [--page PATH] [--chromium PATH]`);
    process.exit(2);
  }
}
if (!screenshot || !root) {
  console.error("usage: node browser_test.mjs SCREENSHOT.png --root DIR [--page PATH] [--chromium PATH]");
  process.exit(2);
}

// ---- a static server on 127.0.0.1 -------------------------------------------------------------
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".json": "application/json", ".wasm": "application/wasm", ".py": "text/plain; charset=utf-8",
  ".zip": "application/zip", ".whl": "application/zip", ".map": "application/json",
  ".css": "text/css", ".png": "image/png",
};
const served = [];
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const file = path.join(root, decodeURIComponent(url.pathname));
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    served.push(`404 ${url.pathname}`);
    res.writeHead(404).end("not found");
    return;
  }
  served.push(`200 ${url.pathname}`);
  res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

// ---- the browser ----------------------------------------------------------------------------
const blocked = [];
const problems = [];
let browser;
let code = 0;
const t0 = performance.now();
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
      // no --user-data-dir: playwright refuses it in launch() and already uses a fresh
      // temporary profile for every launch
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1000, height: 1000 } });
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === "http:" || u.protocol === "https:" || u.protocol === "ws:" || u.protocol === "wss:") && u.hostname !== "127.0.0.1") {
      blocked.push(route.request().url());
      return route.abort("blockedbyclient");
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.on("console", (m) => console.error(`[page ${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (!blocked.includes(r.url())) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });

  await page.goto(origin + page_);
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 120_000 });
  const tReady = performance.now();
  if ((await page.evaluate(() => document.body.dataset.state)) === "error") {
    throw new Error(`page failed while loading: ${await page.textContent("#status")}`);
  }
  await page.click("#run");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state), null, { timeout: 60_000 });
  if ((await page.evaluate(() => document.body.dataset.state)) === "error") {
    throw new Error(`Run failed: ${await page.textContent("#status")}`);
  }
  await page.waitForSelector("#stats tbody tr");
  const stats = await page.$$eval("#stats tbody tr", (trs) =>
    Object.fromEntries(trs.map((tr) => {
      const v = tr.querySelector("td").textContent.trim();
      return [tr.querySelector("th").textContent.trim(), /^-?\d+$/.test(v) ? Number(v) : v === "–" ? null : v];
    })));
  const result = await page.evaluate(() => window.demoResult);
  // Chrome refuses synchronous compiles over 8 MB on the main thread: the runtime must say what to do.
  const probe = fs.readFileSync(new URL("big_module.py", import.meta.url), "utf8");
  const bigCompile = await page.evaluate((code) => window.pyodide.runPython(code), probe);
  const perCall = JSON.parse(await page.evaluate(() => window.pyodide.runPython("import demo; demo.bench()")));
  await page.screenshot({ path: screenshot, fullPage: true });
  const report = {
    stats,
    agrees_with_reference: result.agrees_with_reference,
    kernel_ms: result.kernel_ms,
    platform: result.platform,
    status: (await page.textContent("#status")).trim(),
    load_s: +((tReady - t0) / 1000).toFixed(2),
    total_s: +((performance.now() - t0) / 1000).toFixed(2),
    per_call_us: perCall,
    big_sync_compile_main_thread: bigCompile,
    chromium: browser.version(),
    requests_served: served.length,
    screenshot,
  };
  console.log(JSON.stringify(report, null, 1));
  if (!result.agrees_with_reference) problems.push("the wasm kernel disagrees with the Python reference");
  if (result.platform !== "emscripten") problems.push(`sys.platform is ${result.platform}`);
  if (stats.lines === undefined) problems.push("no 'lines' row in the table");
  if (!/web worker/.test(bigCompile)) problems.push(`no clear error for a > 8 MB module: ${bigCompile}`);
} catch (err) {
  problems.push(String(err && err.stack ? err.stack : err));
} finally {
  if (browser) await browser.close();
  server.close();
}
if (problems.length) {
  console.error(`browser_test: FAIL:\n  ${problems.join("\n  ")}`);
  code = 1;
}
if (blocked.length) {
  console.error(`browser_test: FAIL: requests to other hosts were attempted (and blocked): ${JSON.stringify(blocked)}`);
  code = 3;
}
console.error(`browser_test: exit ${code} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
process.exit(code);

// End-to-end test of the function's upload page (function/src/page.rs) in real headless
// Chromium (Debian `chromium`, driven over CDP by playwright-core; no bundled browser).
//
// Where the page comes from (first that applies):
//   FCCTL_PAGE_URL=http://127.0.0.1:…/   use that page (e.g. a function you started yourself)
//   FCCTL_BROWSER_DIRECT=1               start the function binary directly (fcctl-function from
//                                        FCCTL_FUNCTION_BIN or target/{release,debug}), no emulator
//   (default)                            `fcctl up --local --detach --json` in the repo root, use
//                                        its `url` (prod's HTTP trigger on the emulator), and
//                                        `fcctl local stop` afterwards (unless it was running before)
// Other env: CHROMIUM_PATH (default /usr/bin/chromium), FCCTL_SEED_DIR (default ../shared/seed,
// photos read at run time, never copied), FCCTL_BIN (the fcctl binary),
// FCCTL_DOCS_SCREENSHOT=1 (also rewrite docs/upload-page.png, using the CC0 cat of cc0-cat.sh).
// Screenshots of every result go to target/browser-test/ (not committed).
//
// Run: npm ci --prefix tests/browser && node --test tests/browser/

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SEED = path.resolve(process.env.FCCTL_SEED_DIR || path.join(ROOT, '../shared/seed'));
const DOG = path.join(SEED, 'test_dog.jpg');
const CAT = path.join(SEED, 'test_cat.jpg');
const SHOTS = path.join(ROOT, 'target/browser-test');
const DOCS_SHOT = path.join(ROOT, 'docs/upload-page.png');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Cold start through the emulator loads the model first: be generous.
const RESULT_TIMEOUT = 90_000;

const VERDICT = /^dog (\d\.\d\d) · cat (\d\.\d\d) — (It's a dog!|It's a cat!|Neither a cat nor a dog, I think\.)$/;

let pageUrl;
let cleanup = async () => {};
let browser;
let tmp;

function log(msg) {
  process.stderr.write(`browser-test: ${msg}\n`);
}

function isLoopback(u) {
  const h = new URL(u).hostname;
  return h === '127.0.0.1' || h === 'localhost' || h === '[::1]';
}

function newest(paths) {
  const found = paths.filter((p) => fs.existsSync(p));
  found.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return found[0];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${ms} ms (${last})`);
}

/** Start fcctl-function on a free loopback port (no emulator): the development path. */
async function startFunctionDirect() {
  const bin =
    process.env.FCCTL_FUNCTION_BIN ||
    newest([
      path.join(ROOT, 'target/release/fcctl-function'),
      path.join(ROOT, 'target/debug/fcctl-function'),
    ]);
  assert.ok(bin, 'no fcctl-function binary: cargo build --release -p fcctl-function (or set FCCTL_FUNCTION_BIN)');
  const ort =
    process.env.ORT_DYLIB_PATH ||
    execFileSync(path.join(ROOT, 'scripts/fetch-onnxruntime.sh'), { encoding: 'utf8' }).trim();
  const port = await freePort();
  const child = spawn(bin, [], {
    env: {
      ...process.env,
      FC_CUSTOM_LISTEN_PORT: String(port),
      MODEL_DIR: path.join(ROOT, 'model'),
      ORT_DYLIB_PATH: ort,
      RUST_LOG: process.env.RUST_LOG || 'warn',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitHttp(url + 'healthz', 30_000);
  log(`started ${bin} at ${url}`);
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}

/** `fcctl up --local --detach --json` → prod's HTTP trigger URL on the emulator. */
async function upLocal() {
  const bin =
    process.env.FCCTL_BIN ||
    newest([path.join(ROOT, 'target/release/fcctl'), path.join(ROOT, 'target/debug/fcctl')]);
  assert.ok(bin, 'no fcctl binary: cargo build (or set FCCTL_BIN, or FCCTL_PAGE_URL)');
  // Stop the emulator afterwards only if this run started it (someone may be using theirs).
  const wasRunning =
    spawnSync(bin, ['local', 'status', '--json'], { cwd: ROOT, stdio: 'ignore' }).status === 0;
  log(`${path.relative(ROOT, bin)} up --local --detach --json${wasRunning ? ' (reusing the running emulator)' : ''}`);
  const r = spawnSync(bin, ['up', '--local', '--detach', '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60_000,
  });
  const stop = async () => {
    if (wasRunning) return;
    const s = spawnSync(bin, ['local', 'stop'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
    if (s.status !== 0) log(`fcctl local stop exited ${s.status}`);
  };
  if (r.status !== 0) {
    // `up` may have started the emulator before failing.
    await stop();
    throw new Error(`fcctl up --local --detach --json exited ${r.status ?? r.signal}:\n${r.stdout}`);
  }
  let out;
  try {
    out = JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`fcctl up --json printed no JSON object (${e.message}):\n${r.stdout}`);
  }
  assert.equal(typeof out.url, 'string', `fcctl up --json has no "url": ${r.stdout}`);
  log(`prod trigger URL ${out.url}`);
  return { url: out.url, stop };
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: scripts/setup --browser (apt chromium) or set CHROMIUM_PATH`);
  assert.ok(fs.existsSync(DOG) && fs.existsSync(CAT), `seed photos missing under ${SEED} (set FCCTL_SEED_DIR)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fcctl-browser-'));

  if (process.env.FCCTL_PAGE_URL) {
    pageUrl = process.env.FCCTL_PAGE_URL;
  } else {
    const s = process.env.FCCTL_BROWSER_DIRECT === '1' ? await startFunctionDirect() : await upLocal();
    pageUrl = s.url;
    cleanup = s.stop;
  }
  assert.ok(isLoopback(pageUrl), `refusing a non-loopback page URL: ${pageUrl}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core gives every launch a fresh temporary profile (--user-data-dir).
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  log(`chromium ${browser.version()}, page ${pageUrl}`);
});

after(async () => {
  await browser?.close();
  await cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh context that may only talk to loopback; page errors are collected. */
async function openPage({ javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 720, height: 900 } });
  await context.route('**/*', (route) =>
    isLoopback(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
  );
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const resp = await page.goto(pageUrl);
  assert.equal(resp.status(), 200, `GET ${pageUrl}`);
  assert.equal(await page.title(), 'Cat or dog?');
  return { context, page, errors };
}

async function readResult(page) {
  const verdict = (await page.locator('#result .verdict').textContent()).trim();
  const m = VERDICT.exec(verdict);
  assert.ok(m, `verdict line has the page's format: ${JSON.stringify(verdict)}`);
  const top5 = await page.locator('#result ol.top5 li').allTextContents();
  const meta = (await page.locator('#result .meta').textContent()).trim();
  return { verdict, dog: Number(m[1]), cat: Number(m[2]), tail: m[3], top5, meta };
}

/** Choose a file, check the preview shows it, submit with JS (fetch), return the result. */
async function classifyWithJs(page, file, { image = true } = {}) {
  const preview = page.locator('#preview');
  assert.equal(await preview.isVisible(), false, 'no preview before a file is chosen');
  await page.locator('#file').setInputFiles(file);
  await preview.waitFor({ state: 'visible', timeout: 10_000 });
  const src = await preview.getAttribute('src');
  assert.match(src, /^blob:/, 'preview is the chosen file, shown locally before upload');
  if (image) {
    // The photo itself is decoded and drawn (a non-image would stay a broken image).
    await page.waitForFunction(() => {
      const img = document.getElementById('preview');
      return img.complete && img.naturalWidth > 0;
    });
    const box = await preview.boundingBox();
    assert.ok(box.width > 50 && box.height > 50, `preview is rendered (${box.width}×${box.height})`);
  }

  const posted = page.waitForResponse((r) => r.request().method() === 'POST', { timeout: RESULT_TIMEOUT });
  await page.getByRole('button', { name: 'Classify' }).click();
  const resp = await posted;
  await page.locator('#result .verdict, #result .error').first().waitFor({ timeout: RESULT_TIMEOUT });
  return resp;
}

function checkScores(r, label) {
  assert.equal(r.tail, `It's a ${label}!`, r.verdict);
  const [mine, other] = label === 'dog' ? [r.dog, r.cat] : [r.cat, r.dog];
  assert.ok(mine >= 0.5 && mine > other, `${label} score ${mine} beats ${other}`);
  assert.ok(r.dog >= 0 && r.dog <= 1 && r.cat >= 0 && r.cat <= 1, r.verdict);
  assert.equal(r.top5.length, 5, `five top classes: ${r.top5}`);
  for (const li of r.top5) assert.match(li, /^\S.* \d\.\d{3}$/, `top-5 row "class score": ${li}`);
  assert.match(r.meta, /^\S+ · \d+\.\d ms$/, `model and time: ${r.meta}`);
}

describe('upload page in headless Chromium', () => {
  test('dog photo: preview, submit, "It\'s a dog!" with scores', async () => {
    const { context, page, errors } = await openPage();
    const resp = await classifyWithJs(page, DOG);
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()['content-type'], /application\/json/, 'the script asks for JSON');
    const r = await readResult(page);
    checkScores(r, 'dog');
    assert.match(r.top5.join('\n'), /retriever|terrier|dog|hound|spaniel|shepherd|poodle|collie/i);
    await page.screenshot({ path: path.join(SHOTS, 'dog-result.png'), fullPage: true });
    log(`dog: ${r.verdict} | ${r.top5.join(', ')} | ${r.meta}`);
    assert.deepEqual(errors, [], 'no script errors');
    await context.close();
  });

  test('cat photo: preview, submit, "It\'s a cat!" with scores', async () => {
    const { context, page, errors } = await openPage();
    const resp = await classifyWithJs(page, CAT);
    assert.equal(resp.status(), 200);
    const r = await readResult(page);
    checkScores(r, 'cat');
    await page.screenshot({ path: path.join(SHOTS, 'cat-result.png'), fullPage: true });
    log(`cat: ${r.verdict} | ${r.top5.join(', ')} | ${r.meta}`);
    assert.deepEqual(errors, [], 'no script errors');
    await context.close();
  });

  test('invalid file (text named .jpg): readable error, page keeps working', async () => {
    const bogus = path.join(tmp, 'not-a-photo.jpg');
    fs.writeFileSync(bogus, 'This is a text file, not a photo.\n'.repeat(20));
    const { context, page, errors } = await openPage();
    const resp = await classifyWithJs(page, bogus, { image: false });
    assert.ok(resp.status() >= 400 && resp.status() < 500, `4xx for a non-image, got ${resp.status()}`);
    const body = await resp.json();
    assert.equal(typeof body.error, 'string', 'JSON error code');
    const err = page.locator('#result .error');
    await err.waitFor();
    const msg = (await err.textContent()).trim();
    assert.ok(msg.length >= 15, `error message is a sentence: ${JSON.stringify(msg)}`);
    assert.equal(msg, body.message, 'the page shows the server\'s message');
    assert.doesNotMatch(msg, /undefined|\[object|SyntaxError|TypeError|panick|internal/i, msg);
    assert.match(msg, /image|format|photo/i, `the message says what is wrong: ${msg}`);
    assert.equal(await page.locator('#result .verdict').count(), 0, 'no verdict for a bad file');
    await page.screenshot({ path: path.join(SHOTS, 'invalid-file.png'), fullPage: true });
    log(`invalid file: HTTP ${resp.status()} ${body.error}: ${msg}`);

    // Not a crash: the same page (and the same function instance) classifies the next photo.
    await page.locator('#file').setInputFiles(DOG);
    await page.locator('#preview').waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Classify' }).click();
    await page.locator('#result .verdict').waitFor({ timeout: RESULT_TIMEOUT });
    checkScores(await readResult(page), 'dog');
    assert.deepEqual(errors, [], 'no script errors');
    await context.close();
  });

  test('without JavaScript the form still classifies (and reports bad files)', async () => {
    const { context, page } = await openPage({ javaScriptEnabled: false });
    const url = page.url();
    await page.locator('#file').setInputFiles(DOG);
    const [nav] = await Promise.all([
      page.waitForNavigation({ timeout: RESULT_TIMEOUT }),
      page.getByRole('button', { name: 'Classify' }).click(),
    ]);
    assert.equal(nav.status(), 200);
    assert.equal(nav.request().method(), 'POST', 'plain form post');
    assert.equal(page.url(), url, 'the form posts to the page\'s own address');
    assert.match(nav.headers()['content-type'], /text\/html/);
    const r = await readResult(page);
    checkScores(r, 'dog');
    await page.screenshot({ path: path.join(SHOTS, 'dog-result-nojs.png'), fullPage: true });
    log(`no-JS dog: ${r.verdict}`);

    const bogus = path.join(tmp, 'not-a-photo-either.jpg');
    fs.writeFileSync(bogus, 'plain text\n');
    await page.locator('#file').setInputFiles(bogus);
    const [bad] = await Promise.all([
      page.waitForNavigation({ timeout: RESULT_TIMEOUT }),
      page.getByRole('button', { name: 'Classify' }).click(),
    ]);
    assert.ok(bad.status() >= 400 && bad.status() < 500, `4xx, got ${bad.status()}`);
    assert.equal(await page.title(), 'Cat or dog?', 'the error comes back as the page, not raw JSON');
    const msg = (await page.locator('#result .error').textContent()).trim();
    assert.match(msg, /image|format|photo/i, msg);
    assert.ok(await page.locator('#file').isVisible(), 'the form is there to try again');
    log(`no-JS invalid file: HTTP ${bad.status()}: ${msg}`);
    await context.close();
  });

  test('docs/upload-page.png (CC0 cat) — only with FCCTL_DOCS_SCREENSHOT=1', async (t) => {
    if (process.env.FCCTL_DOCS_SCREENSHOT !== '1') {
      t.skip('set FCCTL_DOCS_SCREENSHOT=1 to rewrite docs/upload-page.png');
      return;
    }
    // Only a CC0 photo goes into the committed screenshot (never ../shared/seed).
    const chelsea = execFileSync(path.join(HERE, 'cc0-cat.sh'), { encoding: 'utf8' }).trim();
    const { context, page, errors } = await openPage();
    await classifyWithJs(page, chelsea);
    checkScores(await readResult(page), 'cat');
    // The page down to the result, without the empty viewport below it.
    const bottom = await page.locator('#result').evaluate((el) => el.getBoundingClientRect().bottom);
    fs.mkdirSync(path.dirname(DOCS_SHOT), { recursive: true });
    await page.screenshot({ path: DOCS_SHOT, clip: { x: 0, y: 0, width: 720, height: Math.ceil(bottom) + 24 } });
    log(`wrote ${path.relative(ROOT, DOCS_SHOT)}`);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

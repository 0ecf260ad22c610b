// Browser helpers: launching Chromium, screenshots at phone and desktop width, form submission
// that waits for the resulting page, and a few page checks.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { totp } from './totp.mjs';

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Content-Security-Policy violations seen by any page of any browser launched here (issue 11 item
 * 6: every page must work under the policy). They fail the suite: `browser.close()` throws, the
 * error list of `signInDemo` gets them, and the process exits non-zero if any went unreported.
 */
const cspViolations = [];
const cspSinks = new WeakMap();

/** Pending `nextCspViolation` calls. */
let cspWaiters = [];

function noteCsp(ctx, message) {
  cspViolations.push(message);
  for (const sink of cspSinks.get(ctx) ?? []) sink.push(message);
  cspWaiters = cspWaiters.filter(({ match, resolve }) => !(match(message) && (resolve(message), true)));
}

/** Resolves with the next CSP violation that `match` accepts (for the watcher's own check). */
export function nextCspViolation(match = () => true) {
  return new Promise((resolve) => cspWaiters.push({ match, resolve }));
}

/** Returns and forgets the violations so far: only for a check that provokes them on purpose. */
export function takeCspViolations() {
  return cspViolations.splice(0);
}

/** Reports CSP violations from every page of `ctx`: the DOM event and Chromium's console line. */
async function watchCsp(ctx) {
  await ctx.exposeBinding('__yiqiaoCspViolation', ({ page }, v) => {
    noteCsp(ctx, `CSP: ${v.effectiveDirective} blocked ${v.blockedURI || 'inline'} at ${v.sourceFile || v.documentURI}:${v.lineNumber}`
      + ` on ${page.url()}${v.sample ? ` (${v.sample})` : ''}`);
  });
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__yiqiaoCspViolation?.({
        effectiveDirective: e.effectiveDirective, blockedURI: e.blockedURI, sourceFile: e.sourceFile,
        lineNumber: e.lineNumber, documentURI: e.documentURI, sample: e.sample,
      });
    });
  });
  ctx.on('console', (m) => {
    if (/Refused to|Content Security Policy/.test(m.text())) {
      noteCsp(ctx, `CSP console on ${m.page()?.url() ?? m.location().url}: ${m.text()}`);
    }
  });
}

/** Throws if any page so far broke the Content-Security-Policy. */
export function assertNoCspViolations() {
  assert.deepEqual(cspViolations, [], 'pages must work under the Content-Security-Policy (issue 11 item 6)');
}

// Also when a suite swallows the error from `close()` or never closes its browser.
process.on('exit', () => {
  if (cspViolations.length) {
    console.error(`# ${cspViolations.length} CSP violation(s):\n${cspViolations.join('\n')}`);
    process.exitCode = 1;
  }
});

/**
 * Launches Chromium; `extraArgs` adds flags (e.g. a fake microphone for voice messages). Every
 * context and page it opens reports CSP violations (see `assertNoCspViolations`).
 */
export async function launch(extraArgs = []) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', ...extraArgs],
  });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const ctx = await newContext(options);
    await watchCsp(ctx);
    return ctx;
  };
  // (`browser.newPage` opens its context through `newContext`, so it is covered too.)
  const close = browser.close.bind(browser);
  browser.close = async (options) => {
    await close(options);
    assertNoCspViolations();
  };
  return browser;
}

/** Chromium flags for a fake camera and microphone that need no permission prompt. */
export const FAKE_MEDIA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

// The server refuses a TOTP code a second time (replay protection): a later staff sign-in in the same
// 30-second window waits for the next code.
let lastCode = null;
async function freshDemoTotp() {
  let code = totp('JBSWY3DPEHPK3PXP');
  while (code === lastCode) {
    await new Promise((r) => setTimeout(r, 1000));
    code = totp('JBSWY3DPEHPK3PXP');
  }
  lastCode = code;
  return code;
}

/**
 * Signs a demo account in (password Yiqiao-demo-2026; staff with the demo TOTP) in a new zh-CN
 * context of `browser`. Returns the context, the page on /home and the page's script errors.
 */
export async function signInDemo(browser, base, login, { staff = false, ...contextOptions } = {}) {
  const ctx = await browser.newContext({ locale: 'zh-CN', ...contextOptions });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  cspSinks.set(ctx, [...(cspSinks.get(ctx) ?? []), errors]);
  await page.goto(`${base}/login`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'Yiqiao-demo-2026');
  if (staff) await page.fill('input[name=totp]', await freshDemoTotp());
  await Promise.all([page.waitForURL(/\/home$/), page.click('form[action="/login"] button.primary')]);
  return { ctx, page, errors };
}

/** Empties (or creates) the artifacts directory, keeping .gitkeep-style dotfiles. */
export function freshDir(dir) {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('.')) rmSync(join(dir, f), { recursive: true, force: true });
  }
}

/**
 * Saves the current page as `<name>-360.png` and `<name>-1280.png` (full page), then returns to
 * the phone viewport the flow runs in. Also notes horizontal overflow at phone width.
 */
export async function snap(page, dir, name, notes) {
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0 && notes) notes.push(`${name}: page is ${overflow}px wider than the 360px phone viewport`);
  await page.screenshot({ path: join(dir, `${name}-${PHONE.width}.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(dir, `${name}-${DESKTOP.width}.png`), fullPage: true });
  await page.setViewportSize(PHONE);
}

/** The path (and query) of the page. */
export function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/** Text of the page's error alert, if any (for assertion messages). */
export async function alertText(page) {
  const a = page.locator('.alert.error');
  return (await a.count()) ? (await a.first().innerText()).trim() : null;
}

/**
 * Clicks `button` (which submits a form) and waits for the next document to load. With
 * `expectPath`, asserts where the browser ended up (after redirects) and reports the page's error
 * alert when it is elsewhere.
 */
export async function submit(page, button, expectPath) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 30_000 });
  await button.click();
  await navigated;
  await page.waitForLoadState('load');
  if (expectPath !== undefined) {
    const got = new URL(page.url()).pathname;
    if (got !== expectPath) {
      const alert = await alertText(page);
      assert.fail(`expected to land on ${expectPath}, got ${pathOf(page)}${alert ? ` with error alert: ${alert}` : ''}`);
    }
  }
}

/** Navigates and checks the response status. */
export async function visit(page, url, status = 200) {
  const res = await page.goto(url, { waitUntil: 'load' });
  assert.ok(res, `no response for ${url}`);
  assert.equal(res.status(), status, `GET ${url} → ${res.status()} (now at ${pathOf(page)})`);
  return res;
}

export async function htmlLang(page) {
  return page.evaluate(() => document.documentElement.lang);
}

export async function h1(page) {
  return (await page.locator('main h1').first().innerText()).trim();
}

/** Signs out with the header's logout button and checks we are signed out (back on the landing page). */
export async function logout(page) {
  await submit(page, page.locator('header form[action="/logout"] button'), '/');
  assert.equal(await page.locator('header form[action="/logout"]').count(), 0, 'still signed in after logout');
}

/** Draws a small "document" on a canvas and returns it as PNG and JPEG bytes (real, valid images). */
export async function makeImages(page) {
  const [png, jpeg] = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 240;
    c.height = 160;
    const g = c.getContext('2d');
    g.fillStyle = '#f4f1e8';
    g.fillRect(0, 0, c.width, c.height);
    g.strokeStyle = '#0b6e4f';
    g.lineWidth = 6;
    g.strokeRect(8, 8, c.width - 16, c.height - 16);
    g.fillStyle = '#1a1a1a';
    g.font = '20px sans-serif';
    g.fillText('TEST DOCUMENT', 30, 70);
    g.fillText('e2e sample', 30, 110);
    return [c.toDataURL('image/png'), c.toDataURL('image/jpeg', 0.85)];
  });
  const bytes = (url) => Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
  const out = { png: bytes(png), jpeg: bytes(jpeg) };
  assert.deepEqual([...out.png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'canvas PNG magic');
  assert.deepEqual([...out.jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'canvas JPEG magic');
  return out;
}

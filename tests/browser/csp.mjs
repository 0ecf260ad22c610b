// Browser test of the Content-Security-Policy and the other security headers (issue 11 item 6),
// run as `node tests/browser/csp.mjs`.
//
// Every suite fails on a CSP violation (browser.mjs watches each page); this one first checks that
// the watcher does catch one, then walks the pages no other suite opens: the institution page
// (whose chooser submits itself from /static/autosubmit.js, not an inline handler), audit log,
// red-flag list, review queue, API page, profile, notification settings, the TOTP enrolment page
// (QR code as a data: image) and a trend chart opened on its own. Screenshots: artifacts/csp-*.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launch, nextCspViolation, pathOf, signInDemo, snap, takeCspViolations, visit } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
let server;
let browser;

before(async () => {
  server = await startServer({ logFile: join(ARTIFACTS, 'csp-server.log') });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the CSP watcher catches inline styles and scripts', async () => {
  const page = await browser.newPage();
  const res = await visit(page, `${server.base}/login`);
  const h = res.headers();
  assert.match(h['content-security-policy'], /default-src 'self'/);
  assert.doesNotMatch(h['content-security-policy'], /unsafe-inline/);
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.match(h['cache-control'], /no-store/);
  // Provoke violations on purpose: an inline style attribute, as a template might have had, and an
  // inline script. Each is reported twice: the DOM event and Chromium's console line.
  const both = (event, consoleText) => Promise.all([
    nextCspViolation((m) => m.startsWith(`CSP: ${event}`)),
    nextCspViolation((m) => m.startsWith('CSP console') && m.includes(consoleText)),
  ]);
  const style = both('style-src', 'inline style');
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<p style="color:red">x</p>'));
  await style;
  const script = both('script-src', 'inline script');
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.pwned = 1';
    document.body.append(s);
  });
  await script;
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'the inline script did not run');
  assert.equal(takeCspViolations().length, 4, 'exactly the provoked violations');
  await page.close();
});

test('admin pages work under the CSP; the institution chooser submits without inline script', { timeout: 120_000 }, async () => {
  const { page, errors, ctx } = await signInDemo(browser, server.base, 'admin', { staff: true });
  await visit(page, `${server.base}/institution`);
  const options = await page.locator('select[name=id] option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.length > 1, 'the demo has several institutions');
  const current = await page.locator('select[name=id]').inputValue();
  const other = options.find((o) => o !== current);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('id') === other), page.selectOption('select[name=id]', other)]);
  assert.equal(await page.locator('select[name=id]').inputValue(), other, `now on ${pathOf(page)}`);
  await snap(page, ARTIFACTS, 'csp-institution');
  for (const [path, name] of [['/audit', 'audit'], ['/admin/red-flags', 'red-flags'], ['/admin/verifications', 'queue'],
    ['/api/docs', 'api-docs'], ['/profile', 'profile'], ['/settings/notifications', 'notify-settings']]) {
    await visit(page, `${server.base}${path}`);
    await snap(page, ARTIFACTS, `csp-${name}`);
  }
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('the TOTP QR code (data: image) and a chart opened on its own render under the CSP', { timeout: 60_000 }, async () => {
  const { page, errors, ctx } = await signInDemo(browser, server.base, 'patient');
  await visit(page, `${server.base}/totp`);
  const qr = page.locator('img[src^="data:image/svg+xml"]');
  await qr.waitFor();
  assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code is drawn');
  await snap(page, ARTIFACTS, 'csp-totp');
  const me = await page.locator('body').getAttribute('data-me');
  const res = await visit(page, `${server.base}/api/v1/patients/${me}/charts/blood-pressure`);
  assert.match(res.headers()['content-type'], /image\/svg\+xml/);
  assert.match(res.headers()['cache-control'], /no-store/);
  await page.screenshot({ path: join(ARTIFACTS, 'csp-chart.png') });
  assert.deepEqual(errors, []);
  await ctx.close();
});

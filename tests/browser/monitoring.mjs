// Browser test of a live monitoring alert (D4, D5), run as `node tests/browser/monitoring.mjs`.
//
// The demo doctor runs the demo patient's hypertension plan; the demo BP monitor (`demo-bp-1`) sends
// an urgent reading over HTTP while the doctor has an unrelated page open; the alert appears on that
// page at once; a second urgent reading joins the same alert (issue 11 item 16): the banner shows the
// latest value and the count, as does the patient's care panel; acknowledging it removes it (and from
// `GET /api/v1/alerts`).
// Screenshots: artifacts/monitor-*.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, launch, PHONE, signInDemo } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
let server;
let browser;

before(async () => {
  server = await startServer({ logFile: join(ARTIFACTS, 'monitor-server.log') });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an urgent device reading reaches the doctor\'s open page and is acknowledged', { timeout: 90_000 }, async () => {
  const { page: d, errors } = await signInDemo(browser, server.base, 'doctor', { staff: true, viewport: DESKTOP });
  await d.goto(`${server.base}/consultations`);
  assert.equal(await d.locator('.monitor-alert').count(), 0);

  const send = async (systolic, diastolic) => {
    const r = await fetch(`${server.base}/api/v1/device-readings`, {
      method: 'POST',
      headers: { authorization: 'Device demo-bp-1:demo-device-secret', 'content-type': 'application/json' },
      body: JSON.stringify({ reading_id: `e2e-${Date.now()}-${systolic}`, type: 'blood-pressure', values: { systolic, diastolic }, unit: 'mmHg', measured_at: new Date().toISOString() }),
    });
    assert.equal(r.status, 201, await r.text());
  };
  await send(186, 112);

  await d.waitForSelector('.monitor-alert.urgent', { timeout: 10_000 });
  assert.match(await d.textContent('.monitor-alert'), /紧急预警 · 张三 · 186\/112 mmHg/);

  // A repeat updates the same banner: latest value and count, no second banner.
  await send(190, 114);
  await d.waitForSelector('.monitor-alert[data-count="2"]', { timeout: 10_000 });
  assert.equal(await d.locator('.monitor-alert').count(), 1);
  assert.match(await d.textContent('.monitor-alert'), /紧急预警 · 张三 · 190\/114 mmHg · 2 次读数/);
  await d.screenshot({ path: join(ARTIFACTS, 'monitor-doctor-alert-1280.png') });
  const [alert] = (await d.evaluate(() => fetch('/api/v1/alerts').then((x) => x.json()))).items;
  assert.equal(alert.count, 2);
  await d.goto(`${server.base}/patients/${alert.patient}/care`);
  assert.match(await d.textContent('.monitor-inline .repeat-count[data-count="2"]'), /2 次读数/);
  await d.waitForSelector('.monitor-alert[data-count="2"]', { timeout: 10_000 });
  await d.setViewportSize(PHONE);
  await d.screenshot({ path: join(ARTIFACTS, 'monitor-doctor-alert-360.png') });

  await d.click('.monitor-alert button');
  await d.waitForSelector('.monitor-alert', { state: 'detached', timeout: 10_000 });
  const open = await d.evaluate(() => fetch('/api/v1/alerts').then((x) => x.json()));
  assert.equal(open.items.length, 0, 'acknowledged alerts are no longer open');
  assert.deepEqual(errors, []);
});

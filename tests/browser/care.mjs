// Browser test of chronic-care follow-up (D1–D5, E3), run as `node tests/browser/care.mjs`.
//
// The demo doctor opens the demo patient's care panel, ends the demo plan and starts a new
// hypertension plan from the template in the form; with that page open, the demo BP monitor
// (`demo-bp-1`) publishes an urgent reading over MQTT (`mosquitto_pub` to the local Mosquitto, payload
// signed with the device secret); the alert appears live on the doctor's page and in the inbox. The
// patient's page (phone) leads with the 120 advice and shows the 3-month chart with the alert marker;
// the patient records a reading by hand and it completes nothing twice. Screenshots:
// artifacts/care-*.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, launch, PHONE, signInDemo } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
const BROKER_PORT = process.env.MQTT_PORT || '1883';
let server;
let browser;

before(async () => {
  server = await startServer({
    logFile: join(ARTIFACTS, 'care-server.log'),
    configToml: `[mqtt]\nbroker = "127.0.0.1:${BROKER_PORT}"\n`,
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Publishes one reading as the demo device would: the body and its HMAC-SHA256 with the secret. */
function publishReading(reading) {
  const body = JSON.stringify(reading);
  const hmac = createHmac('sha256', 'demo-device-secret').update(body).digest('hex');
  const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', BROKER_PORT, '-q', '1', '-t',
    'yiqiao/devices/demo-bp-1/readings', '-m', JSON.stringify({ body, hmac })], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mosquitto_pub failed: ${r.stderr}`);
}

test('a doctor starts a plan, a device alert arrives live, the patient sees the 120 advice and the trend', { timeout: 180_000 }, async () => {
  // The doctor finds the patient on the follow-up list and opens the care panel.
  const { page: d, errors: dErrors } = await signInDemo(browser, server.base, 'doctor', { staff: true, viewport: DESKTOP });
  await d.goto(`${server.base}/care/patients`);
  await d.screenshot({ path: join(ARTIFACTS, 'care-doctor-list-1280.png'), fullPage: true });
  await Promise.all([d.waitForURL(/\/patients\/.+\/care$/), d.click('#followed a.button')]);
  const patientId = d.url().split('/patients/')[1].split('/')[0];

  // Start a new hypertension plan from the template with a stricter target: it replaces the demo plan.
  const demoPlan = await d.getAttribute('.plan-card', 'data-plan');
  assert.equal(await d.locator('#new-plan[open]').count(), 0, 'with a plan running the form starts closed');
  await d.click('#new-plan summary');
  assert.equal(await d.inputValue('#plan-form input[name=m0_rrule]'), 'FREQ=DAILY;BYHOUR=7,19;BYMINUTE=0');
  await d.fill('#plan-form input[name=systolic_target]', '135');
  await d.screenshot({ path: join(ARTIFACTS, 'care-doctor-new-plan-1280.png'), fullPage: true });
  await Promise.all([d.waitForURL(/\/care$/), d.click('#plan-form button.primary')]);
  assert.equal(await d.locator('.plan-card').count(), 1, 'the new plan replaced the demo plan');
  assert.notEqual(await d.getAttribute('.plan-card', 'data-plan'), demoPlan);
  assert.match(await d.textContent('.plan-card'), /FREQ=DAILY;BYHOUR=7,19;BYMINUTE=0/);
  const plans = await d.evaluate((p) => fetch(`/api/v1/patients/${p}/plans`).then((x) => x.json()), patientId);
  assert.equal(plans.items.length, 1);
  assert.equal(plans.items[0].thresholds.systolic_target, 135);
  const tasks = await d.evaluate((p) => fetch(`/api/v1/patients/${p}/tasks`).then((x) => x.json()), patientId);
  assert.ok(tasks.items.some((t) => t.measure === 'blood-pressure' && t.state === 'pending'), 'BP tasks are scheduled');

  // With the panel open, the device publishes an urgent reading over MQTT.
  assert.equal(await d.locator('.monitor-alert').count(), 0);
  publishReading({ reading_id: `mqtt-e2e-${Date.now()}`, type: 'blood-pressure', values: { systolic: 188, diastolic: 114 }, unit: 'mmHg', measured_at: new Date().toISOString() });
  await d.waitForSelector('.monitor-alert.urgent', { timeout: 10_000 });
  assert.match(await d.textContent('.monitor-alert'), /188\/114 mmHg/);
  // The panel refreshes itself: the reading, the inline alert and the chart's alert ring.
  await d.waitForSelector('#patient-care .monitor-inline.urgent', { timeout: 10_000 });
  assert.match(await d.textContent('#readings'), /188\/114/);
  await d.screenshot({ path: join(ARTIFACTS, 'care-doctor-alert-1280.png'), fullPage: true });
  await d.setViewportSize(PHONE);
  await d.screenshot({ path: join(ARTIFACTS, 'care-doctor-alert-360.png'), fullPage: true });
  await d.setViewportSize(DESKTOP);

  // The alert is also in the doctor's inbox, urgent.
  await d.goto(`${server.base}/inbox`);
  assert.match(await d.textContent('#inbox li.note.urgent'), /188\/114/);
  // Every page's Inbox badge asks for the unread count alone.
  await d.waitForSelector('nav a[href="/inbox"][data-count="1"]', { timeout: 10_000 });
  await d.screenshot({ path: join(ARTIFACTS, 'care-doctor-inbox-1280.png'), fullPage: true });

  // The patient (phone) sees what to do now and the trend with the alert marked.
  const { page: p, errors: pErrors } = await signInDemo(browser, server.base, 'patient', { viewport: PHONE });
  await p.goto(`${server.base}/care`);
  assert.match(await p.textContent('#urgent-120'), /120/);
  assert.equal(await p.getAttribute('#urgent-120 a.big-call', 'href'), 'tel:120');
  const chart = p.locator('figure.chart[data-kind="blood-pressure"] svg');
  assert.equal(await chart.count(), 1, 'the blood-pressure chart is on the page');
  assert.equal(await chart.getAttribute('role'), 'img');
  assert.match(await p.locator('figure.chart[data-kind="blood-pressure"] svg title').first().textContent(), /血压/);
  await p.screenshot({ path: join(ARTIFACTS, 'care-patient-360.png'), fullPage: true });

  // A reading by hand: only the fields of what is measured are shown; it is saved and listed.
  assert.ok(await p.locator('.fields[data-for="glucose"]').isHidden());
  await p.fill('input[name=systolic]', '128');
  await p.fill('input[name=diastolic]', '82');
  await Promise.all([p.waitForURL(/\/care/), p.click('#reading-form button.primary')]);
  assert.match(await p.textContent('#reading-list'), /128\/82 mmHg/);
  assert.match(await p.textContent('#reading-list'), /手动记录/);
  await p.setViewportSize(DESKTOP);
  await p.screenshot({ path: join(ARTIFACTS, 'care-patient-1280.png'), fullPage: true });

  // An implausible value is refused with a clear message and nothing is stored.
  await p.fill('input[name=systolic]', '500');
  await p.fill('input[name=diastolic]', '80');
  await p.click('#reading-form button.primary');
  await p.waitForSelector('.alert.error');
  const obs = await p.evaluate((id) => fetch(`/api/v1/patients/${id}/observations`).then((x) => x.json()), patientId);
  assert.equal(obs.items.filter((o) => o.values.systolic === 500).length, 0);
  assert.deepEqual(dErrors, []);
  assert.deepEqual(pErrors, []);
});

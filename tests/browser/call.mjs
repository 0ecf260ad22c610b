// Browser test of a video call (A1, F3), run as `node tests/browser/call.mjs`.
//
// Two Chromium instances with fake camera and microphone against `yiqiao serve --demo`: the demo
// patient (phone width) starts a consultation with the cardiology specialist, who answers it; the
// patient starts a video call; the specialist's page (any page) rings; the specialist accepts; both
// sides connect through our WebSocket signaling, and the test reads RTCPeerConnection.getStats() on
// both sides until video frames are decoded and audio packets received in each direction. Then the
// patient hangs up and the call (with its length) appears in both timelines. The same call is then
// forced through TURN (`iceTransportPolicy: "relay"`) against a real coturn (Debian `coturn`) that
// this test starts on loopback with our `use-auth-secret` credentials.
// Screenshots: artifacts/call-*.png.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, FAKE_MEDIA, launch, PHONE, signInDemo } from './browser.mjs';
import { consultationWithSpecialist, waitForMedia } from './call-helpers.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
let server;
const browsers = [];


let coturn;

const freePort = () => new Promise((resolve, reject) => {
  const srv = createServer();
  srv.on('error', reject);
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});

before(async () => {
  // coturn on loopback, checking credentials the way `use-auth-secret` does.
  const secret = randomBytes(24).toString('hex');
  const turnPort = await freePort();
  coturn = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', `--listening-port=${turnPort}`,
    '--relay-ip=127.0.0.1', '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=yiqiao.test',
    '--no-tls', '--no-dtls', '--no-cli', '--allow-loopback-peers', '--fingerprint', '--min-port=49160',
    '--max-port=49400', '--log-file=stdout', '--simple-log'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(ARTIFACTS, 'call-coturn.log'));
  coturn.stdout.pipe(log);
  coturn.stderr.pipe(log);
  server = await startServer({
    logFile: join(ARTIFACTS, 'call-server.log'),
    configToml: `[calls]\nturn_urls = ["turn:127.0.0.1:${turnPort}?transport=udp"]\nturn_secret = "${secret}"\nturn_ttl_secs = 600\n`,
  });
});

after(async () => {
  for (const b of browsers) await b.close();
  await server?.stop();
  coturn?.kill();
});

/** The local candidate type of the selected pair ("host", "srflx", "relay"). */
const selectedCandidate = (page) => page.evaluate(async () => {
  const stats = await window.yiqiaoCall.pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
  });
  return pair ? stats.get(pair.localCandidateId)?.candidateType ?? null : null;
});

async function signIn(login, viewport, staff) {
  const browser = await launch(FAKE_MEDIA);
  browsers.push(browser);
  return signInDemo(browser, server.base, login, { viewport, staff, permissions: ['camera', 'microphone'] });
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `call-${name}.png`), fullPage: false });

async function holdCall({ relay }) {
  const tag = relay ? 'relay-' : '';
  const patient = await signIn('patient', PHONE, false);
  const doctor = await signIn('specialist', DESKTOP, true);
  const p = patient.page;
  const d = doctor.page;
  if (relay) {
    for (const page of [p, d]) await page.evaluate(() => localStorage.setItem('yiqiao.forceRelay', '1'));
  }

  const conversation = await consultationWithSpecialist(server.base, p, d, '复诊：最近血压偏高，想视频让医生看看脚踝水肿');

  // The doctor moves on to another page; the call must ring there.
  await d.goto(`${server.base}/home`);
  await p.reload();
  await Promise.all([p.waitForURL(/\/calls\/[0-9a-f]{32}$/), p.click('#call-start button[value=video]')]);
  const callUrl = p.url();
  await p.waitForSelector('#call-status');
  assert.match(await p.textContent('#call-status'), /等待对方接听/);
  await d.waitForSelector('.ringing .accept', { timeout: 10_000 });
  assert.match(await d.textContent('.ringing'), /邀请您视频通话/);
  if (!relay) await d.screenshot({ path: join(ARTIFACTS, 'call-doctor-ringing-1280.png') });
  const accepted = Date.now();
  await Promise.all([d.waitForURL(/\/calls\/[0-9a-f]{32}$/), d.click('.ringing .accept')]);
  assert.equal(d.url(), callUrl, 'both sides are in the same room');

  // Media flows both ways, through our signaling.
  const atDoctor = await waitForMedia(d, 'doctor');
  const atPatient = await waitForMedia(p, 'patient');
  console.log(`# ${relay ? 'relayed' : 'direct'}: media on both sides ${Date.now() - accepted} ms after accept; doctor ${JSON.stringify(atDoctor)}, patient ${JSON.stringify(atPatient)}`);
  if (relay) {
    assert.equal(await selectedCandidate(p), 'relay', 'the patient side goes through TURN');
    assert.equal(await selectedCandidate(d), 'relay', 'the doctor side goes through TURN');
  }
  await p.waitForFunction(() => document.getElementById('call-status').textContent.includes('通话中'));
  await shot(p, `${tag}patient-in-call-360`);
  await shot(d, `${tag}doctor-in-call-1280`);

  // Controls: mute stops the patient's outgoing audio track.
  await p.click('#mute');
  assert.equal(await p.evaluate(() => window.yiqiaoCall.pc.getSenders().find((s) => s.track?.kind === 'audio').track.enabled), false);
  assert.equal(await p.getAttribute('#mute', 'aria-pressed'), 'true');
  await p.click('#mute');

  // Hang up: both leave, and the call (with its length) is in both timelines.
  await p.waitForTimeout(1500);
  await p.click('#hangup');
  await d.waitForFunction(() => document.getElementById('call-status').textContent.includes('通话已结束'), null, { timeout: 10_000 });
  await p.waitForURL(conversation, { timeout: 10_000 });
  await p.waitForSelector('.call-entry');
  assert.match(await p.textContent('.call-entry'), /视频通话 · \d\d:\d\d/);
  await d.goto(conversation);
  assert.match(await d.textContent('.call-entry'), /视频通话 · \d\d:\d\d/);
  await p.locator('.call-entry').scrollIntoViewIfNeeded();
  await shot(p, `${tag}patient-timeline-360`);
  assert.deepEqual(patient.errors, [], 'no script errors on the patient side');
  assert.deepEqual(doctor.errors, [], 'no script errors on the doctor side');
}

test('patient and doctor see and hear each other through our signaling', { timeout: 150_000 }, async () => {
  await holdCall({ relay: false });
});

test('the same call forced through TURN (coturn, use-auth-secret credentials)', { timeout: 150_000 }, async () => {
  await holdCall({ relay: true });
});

test('the pre-call check passes camera, microphone, connection and TURN relay', { timeout: 60_000 }, async () => {
  const { page, errors } = await signIn('patient', PHONE, false);
  await page.goto(`${server.base}/calls/check`);
  await page.waitForSelector('#check[data-done]', { timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'call-check-360.png'), fullPage: true });
  for (const id of ['check-camera', 'check-mic', 'check-server', 'check-relay']) {
    assert.equal(await page.getAttribute(`#${id}`, 'data-state'), 'ok', `${id} passes`);
  }
  assert.equal(await page.getAttribute('#check', 'data-done'), 'ok');
  assert.match(await page.textContent('#check-summary'), /一切正常/);
  assert.deepEqual(errors, []);
});

// Browser test of a three-party call room with recording (F3), run as `node tests/browser/call-room.mjs`.
//
// Three Chromium instances with fake camera and microphone against `yiqiao serve --demo`: the
// cardiology specialist (desktop) video-calls the demo patient (phone), then invites a family member
// through a one-time link made on the call screen; the family member (a third browser, no account)
// opens the link and joins. The test reads every RTCPeerConnection's getStats() on all three pages
// until video frames are decoded and audio packets received in every direction (six directions).
// The family member reloads mid-call and the room renegotiates with their new page. The used link
// is refused a second time. The doctor asks to record; the patient and the family member consent on
// their screens; the doctor's browser records and uploads chunks while the call runs; the doctor
// stops the recording and ends the call for everyone. The call and the recording appear in the
// patient's timeline, and the recording plays.
// Screenshots: artifacts/room-*.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
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

before(async () => {
  server = await startServer({ logFile: join(ARTIFACTS, 'room-server.log') });
});

after(async () => {
  for (const b of browsers) await b.close();
  await server?.stop();
});

async function newBrowser() {
  const browser = await launch(FAKE_MEDIA);
  browsers.push(browser);
  return browser;
}

async function signIn(login, viewport, staff) {
  return signInDemo(await newBrowser(), server.base, login, { viewport, staff, permissions: ['camera', 'microphone'] });
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `room-${name}.png`), fullPage: true });
const statusIs = (page, text) => page.waitForFunction(
  (t) => document.getElementById('call-status')?.textContent.includes(t), text, { timeout: 15_000 });

test('three people see and hear each other; a guest link works once; a consented recording is kept', { timeout: 240_000 }, async () => {
  const patient = await signIn('patient', PHONE, false);
  const doctor = await signIn('specialist', DESKTOP, true);
  const p = patient.page;
  const d = doctor.page;
  const doctorConsole = [];
  d.on('console', (m) => doctorConsole.push(`${m.type()}: ${m.text()}`));
  const conversation = await consultationWithSpecialist(server.base, p, d, '复诊：想请家人一起视频听医生解释检查结果');

  // The doctor calls from the conversation; the patient's page rings and they accept.
  await Promise.all([d.waitForURL(/\/calls\/[0-9a-f]{32}$/), d.click('#call-start button[value=video]')]);
  const callUrl = d.url();
  await p.waitForSelector('.ringing .accept', { timeout: 10_000 });
  await Promise.all([p.waitForURL(/\/calls\/[0-9a-f]{32}$/), p.click('.ringing .accept')]);
  assert.equal(p.url(), callUrl);
  await waitForMedia(d, 'doctor', 1);
  await waitForMedia(p, 'patient', 1);

  // The doctor invites a family member with a one-time link.
  await d.click('#invite summary');
  await d.fill('#guest-name', '张小明');
  await d.selectOption('#guest-role', 'family');
  await d.click('#invite-guest button[type=submit]');
  await d.waitForSelector('#guest-link:not([hidden])');
  const link = await d.inputValue('#guest-url');
  assert.match(link, /\/join\/[A-Za-z0-9_-]{43}$/, 'a 256-bit one-time token');
  await shot(d, 'doctor-invite-1280');

  // The family member (no account) opens the link on a phone and joins.
  const guestBrowser = await newBrowser();
  const guestCtx = await guestBrowser.newContext({ locale: 'zh-CN', viewport: PHONE, permissions: ['camera', 'microphone'] });
  const g = await guestCtx.newPage();
  const guestErrors = [];
  g.on('pageerror', (e) => guestErrors.push(e.message));
  await g.goto(link);
  assert.match(await g.textContent('main'), /陈专家/);
  assert.match(await g.textContent('main'), /张小明/);
  await shot(g, 'guest-join-360');
  await Promise.all([g.waitForURL(/\/guest\/call$/), g.click('#join')]);

  // Every direction: each page decodes video and receives audio from both others.
  await waitForMedia(g, 'guest', 2, 45_000);
  await waitForMedia(d, 'doctor', 2, 45_000);
  await waitForMedia(p, 'patient', 2, 45_000);
  await d.waitForFunction(() => document.querySelectorAll('#roster li[data-state="joined"]').length === 3);
  assert.match(await d.textContent('#roster'), /张小明.*家属/);
  await shot(d, 'doctor-three-1280');
  await shot(p, 'patient-three-360');
  await shot(g, 'guest-three-360');

  // The used link is refused, even before the call ends.
  const again = await (await guestBrowser.newContext({ locale: 'zh-CN' })).newPage();
  await again.goto(link);
  assert.match(await again.textContent('main'), /此链接已被使用/);

  // The family member reloads mid-call: the others connect to the new page.
  const oldSession = await g.evaluate(() => window.yiqiaoCall.session);
  await g.reload();
  assert.notEqual(await g.evaluate(() => window.yiqiaoCall.session), oldSession);
  await waitForMedia(g, 'guest after reload', 2, 45_000);
  const guestId = await g.evaluate(() => document.getElementById('call').dataset.me);
  await d.waitForFunction(async (id) => {
    const peer = window.yiqiaoCall.peers.get(id);
    if (!peer) return false;
    let frames = 0;
    (await peer.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded ?? 0; });
    return frames > 10;
  }, guestId, { timeout: 45_000 });

  // Recording: the doctor asks; nothing is recorded until both others consent on their screens.
  await d.click('#record');
  for (const page of [p, g]) await page.waitForSelector('#consent:not([hidden])', { timeout: 10_000 });
  await shot(p, 'patient-consent-360');
  await p.click('#consent-yes');
  await d.waitForTimeout(1000);
  assert.equal(await d.isHidden('#rec-badge'), true, 'not recording before everyone consented');
  await g.click('#consent-yes');
  try {
    for (const page of [d, p, g]) await page.waitForSelector('#rec-badge:not([hidden])', { timeout: 15_000 });
  } catch (e) {
    // What the doctor's page knew, for the report.
    console.log('# doctor console:', JSON.stringify(doctorConsole));
    console.log('# doctor view:', JSON.stringify(await d.evaluate(() => window.yiqiaoCall.view())));
    throw e;
  }
  await shot(g, 'guest-recording-360');
  // Chunks go up every few seconds while the call runs.
  await d.waitForFunction(() => (window.yiqiaoCall.recording?.seq ?? 0) >= 2, null, { timeout: 20_000 });
  await d.click('#record');
  await d.waitForFunction(() => document.getElementById('record').getAttribute('aria-pressed') === 'false', null, { timeout: 20_000 });
  for (const page of [d, p, g]) await page.waitForSelector('#rec-badge[hidden]', { state: 'attached', timeout: 15_000 });

  // The doctor ends the call for everyone.
  await d.click('#end-all');
  for (const page of [d, p, g]) await statusIs(page, '通话已结束');
  await g.waitForSelector('#guest-thanks:not([hidden])');

  // The patient's timeline keeps the call and the recording, which plays.
  await p.goto(conversation);
  await p.waitForSelector('.call-entry');
  await p.waitForSelector('.recording-entry video');
  const width = await p.$eval('.recording-entry video', (v) => new Promise((resolve) => {
    if (v.readyState >= 1) resolve(v.videoWidth);
    v.onloadedmetadata = () => resolve(v.videoWidth);
    v.onerror = () => resolve(-1);
  }));
  assert.ok(width > 0, `the recording has a picture (width ${width})`);
  await p.locator('.recording-entry').scrollIntoViewIfNeeded();
  await shot(p, 'patient-timeline-360');

  assert.deepEqual(patient.errors, [], 'no script errors on the patient side');
  assert.deepEqual(doctor.errors, [], 'no script errors on the doctor side');
  assert.deepEqual(guestErrors, [], 'no script errors on the guest side');
});

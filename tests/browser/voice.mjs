// Browser test of voice messages (A1), run as `node tests/browser/voice.mjs`.
//
// Chromium with a fake microphone against `yiqiao serve --demo`: the demo patient (a 360 px phone)
// starts a consultation with the cardiology team and records voice messages — by click
// (click to start, click to send), by holding the button, and one cancelled by sliding away. The
// demo specialist (desktop) sees them arrive live as inline players with their length, and the
// recording loads as audio; after a reload the server-rendered page shows them the same way. A
// browser without MediaRecorder gets a clear message. Screenshots: artifacts/voice-*.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, FAKE_MEDIA, launch, PHONE, signInDemo } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
let server;
let browser;

before(async () => {
  server = await startServer({ logFile: join(ARTIFACTS, 'voice-server.log') });
  // A fake microphone (a beeping tone) that needs no permission prompt.
  browser = await launch(FAKE_MEDIA);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(login, options, staff) {
  const signed = await signInDemo(browser, server.base, login, { ...options, staff });
  await signed.ctx.grantPermissions(['microphone'], { origin: server.base });
  return signed;
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `voice-${name}.png`), fullPage: true });
const voiceCount = (page, mine) => page.locator(`.msg${mine ? '.mine' : ':not(.mine)'} .bubble.voice`).count();

test('a patient records voice messages on a phone; the doctor plays them live', { timeout: 120_000 }, async () => {
  const patient = await signIn('patient', { viewport: PHONE, isMobile: true, hasTouch: true }, false);
  const doctor = await signIn('specialist', { viewport: DESKTOP }, true);
  const p = patient.page;
  const d = doctor.page;

  await p.goto(`${server.base}/consultations/new`);
  const cardiology = await p.$eval('select[name=target]', (s) =>
    [...s.options].find((o) => o.value.startsWith('department:') && o.textContent.includes('心内科')).value);
  await p.selectOption('select[name=target]', cardiology);
  await p.fill('textarea[name=complaint]', '最近血压偏高，打字不方便，想用语音说');
  await Promise.all([p.waitForURL(/\/consultations\/[0-9a-f-]+$/), p.click('#new-consultation button.primary')]);
  const conversation = p.url();
  await d.goto(conversation);

  // The microphone button is there, large enough for a thumb, and labelled for touch.
  await p.waitForSelector('#voice:not([hidden]) #mic');
  const box = await p.locator('#mic').boundingBox();
  assert.ok(box.height >= 48 && box.width >= 160, `a big tap target, got ${box.width}×${box.height}`);
  assert.match(await p.textContent('#mic'), /按住/);

  // Click to start, about two seconds of speech, click to send.
  await p.click('#mic');
  await p.waitForSelector('#mic.recording');
  await p.waitForFunction(() => /正在录音 0:01/.test(document.getElementById('voice-status').textContent));
  await shot(p, 'patient-recording-360');
  await p.waitForTimeout(1200); // the length of the recording, not a wait for the app
  await p.click('#mic');
  await p.waitForSelector('.msg.mine .bubble.voice audio', { timeout: 15_000 });
  const mine = await p.textContent('.msg.mine .bubble.voice .voice-duration');
  assert.match(mine, /^0:0[23]$/, `about two seconds, got ${mine}`);
  await shot(p, 'patient-sent-360');

  // It arrives on the doctor's screen live, as a player with its length, and the sound loads.
  await d.waitForSelector('.msg:not(.mine) .bubble.voice audio', { timeout: 10_000 });
  assert.equal(await d.textContent('.msg:not(.mine) .bubble.voice .voice-duration'), mine);
  const fetched = await d.$eval('.bubble.voice audio', async (a) => {
    const r = await fetch(a.src, { credentials: 'same-origin' });
    const bytes = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get('content-type'), magic: [...bytes.subarray(0, 4)], size: bytes.length };
  });
  assert.equal(fetched.status, 200);
  assert.equal(fetched.type, 'audio/webm', 'Chromium records Opus in WebM');
  assert.deepEqual(fetched.magic, [0x1a, 0x45, 0xdf, 0xa3]);
  assert.ok(fetched.size > 1000, `a real recording, got ${fetched.size} bytes`);
  const duration = await d.$eval('.bubble.voice audio', (a) => new Promise((resolve, reject) => {
    a.addEventListener('loadedmetadata', () => resolve(a.duration), { once: true });
    a.addEventListener('error', () => reject(new Error(`audio error ${a.error?.code}`)), { once: true });
    a.preload = 'metadata';
    a.load();
  }));
  // MediaRecorder's WebM has no length in its header, so the browser may say Infinity.
  assert.ok(duration > 0, `the player reads the recording, duration ${duration}`);
  await shot(d, 'doctor-live-1280');

  // Hold to talk: press, speak, release — sent without a second click.
  await p.locator('#mic').scrollIntoViewIfNeeded();
  const mic = await p.locator('#mic').boundingBox();
  const cx = mic.x + mic.width / 2;
  const cy = mic.y + mic.height / 2;
  await p.mouse.move(cx, cy);
  await p.mouse.down();
  await p.waitForSelector('#mic.recording');
  await p.waitForFunction(() => /松开 发送/.test(document.getElementById('voice-status').textContent));
  await shot(p, 'patient-holding-360');
  await p.waitForTimeout(1000);
  await p.mouse.up();
  await p.waitForFunction(() => document.querySelectorAll('.msg.mine .bubble.voice').length === 2, null, { timeout: 15_000 });
  await d.waitForFunction(() => document.querySelectorAll('.msg:not(.mine) .bubble.voice').length === 2, null, { timeout: 10_000 });

  // Slide away while holding: nothing is sent, and the patient is told. (The new message moved
  // the button down.)
  await p.locator('#mic').scrollIntoViewIfNeeded();
  const again = await p.locator('#mic').boundingBox();
  const [ax, ay] = [again.x + again.width / 2, again.y + again.height / 2];
  await p.mouse.move(ax, ay);
  await p.mouse.down();
  await p.waitForSelector('#mic.recording');
  await p.waitForTimeout(600);
  await p.mouse.move(ax, Math.max(0, ay - 200), { steps: 4 });
  await p.waitForSelector('#mic.cancelling');
  await p.mouse.up();
  await p.waitForFunction(() => /已取消/.test(document.getElementById('voice-status').textContent));
  assert.equal(await voiceCount(p, true), 2, 'a cancelled recording is not sent');
  await shot(p, 'patient-cancelled-360');

  // The server-rendered page shows the same players and lengths.
  await d.reload();
  assert.equal(await voiceCount(d, false), 2);
  assert.equal(await d.getAttribute('.bubble.voice audio', 'preload'), 'none', 'nothing downloads until played');
  assert.equal(await d.textContent('.bubble.voice .voice-duration'), mine);
  await p.reload();
  await p.locator('.msg.mine .bubble.voice').last().scrollIntoViewIfNeeded();
  await shot(p, 'patient-reloaded-360');
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 360 px, overflow ${overflow}`);

  // A browser that cannot record says so instead of doing nothing.
  const old = await patient.ctx.newPage();
  await old.addInitScript(() => { delete window.MediaRecorder; });
  await old.goto(conversation);
  await old.click('#mic');
  await old.waitForSelector('#voice-status.error');
  assert.match(await old.textContent('#voice-status'), /不能录音/);
  assert.equal(await voiceCount(old, true), 2);
  await shot(old, 'patient-unsupported-360');

  assert.deepEqual(patient.errors, [], 'no script errors on the patient side');
  assert.deepEqual(doctor.errors, [], 'no script errors on the doctor side');
});

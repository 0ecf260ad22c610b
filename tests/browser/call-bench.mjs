// Call set-up benchmark (issue 4, F3): time from "accept" to the first decoded video frame, on
// loopback, over N calls between two Chromium instances with fake camera and microphone, through our
// signaling. Run: `node tests/browser/call-bench.mjs [--calls 20]` after building the server (as
// scripts/test does; it runs `--calls 2` as a smoke run). Prints p50/p95/max on both sides; figures and
// method: docs/BENCHMARKS.md. Exits non-zero if a call fails to show video within 20 s.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DESKTOP, FAKE_MEDIA, launch, PHONE, signInDemo } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const argIndex = process.argv.indexOf('--calls');
const CALLS = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 20;


const server = await startServer({ logFile: join(ARTIFACTS, 'call-bench-server.log') });
const browsers = [];
try {
  const signIn = async (login, viewport, staff) => {
    const b = await launch(FAKE_MEDIA);
    browsers.push(b);
    return (await signInDemo(b, server.base, login, { viewport, staff })).page;
  };
  const p = await signIn('patient', PHONE, false);
  const d = await signIn('specialist', DESKTOP, true);
  await p.goto(`${server.base}/consultations/new`);
  const specialist = await p.$eval('select[name=target]', (s) =>
    [...s.options].find((o) => o.value.startsWith('doctor:') && o.textContent.includes('陈专家')).value);
  await p.selectOption('select[name=target]', specialist);
  await p.fill('textarea[name=complaint]', '基准：视频复诊');
  await Promise.all([p.waitForURL(/\/consultations\/[0-9a-f-]+$/), p.click('#new-consultation button.primary')]);
  const conversation = p.url();
  await d.goto(conversation);
  await d.fill('#composer textarea', '好的');
  await d.click('#composer button');
  await d.goto(`${server.base}/home`);

  // Resolves with the time (ms since `t0`, page clock) of the first decoded video frame.
  const firstFrame = (page) => page.evaluate(() => new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const poll = async () => {
      const pc = window.yiqiaoCall?.pc;
      if (pc) {
        let frames = 0;
        (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded ?? 0; });
        if (frames > 0) { resolve(Date.now()); return; }
      }
      if (Date.now() > deadline) reject(new Error('no video frame in 20 s')); else setTimeout(poll, 10);
    };
    poll();
  }));

  const callee = [];
  const caller = [];
  for (let i = 0; i < CALLS; i += 1) {
    await p.goto(conversation);
    await Promise.all([p.waitForURL(/\/calls\//), p.click('#call-start button[value=video]')]);
    await d.waitForSelector('.ringing .accept', { timeout: 10_000 });
    const callerFrame = firstFrame(p);
    const t0 = Date.now();
    await Promise.all([d.waitForURL(/\/calls\//), d.click('.ringing .accept')]);
    const calleeAt = await firstFrame(d);
    const callerAt = await callerFrame;
    // Both pages run on this machine's clock, like the test process.
    callee.push(calleeAt - t0);
    caller.push(callerAt - t0);
    await p.click('#hangup');
    await p.waitForURL(conversation, { timeout: 10_000 });
    await d.waitForURL(conversation, { timeout: 10_000 });
    await d.goto(`${server.base}/home`);
  }
  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
    return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${s[s.length - 1]} ms`;
  };
  console.log(`calls: ${CALLS}; accept → first decoded video frame on loopback`);
  console.log(`  at the callee (the one who accepted): ${stat(callee)}`);
  console.log(`  at the caller:                        ${stat(caller)}`);
} finally {
  for (const b of browsers) await b.close();
  await server.stop();
}

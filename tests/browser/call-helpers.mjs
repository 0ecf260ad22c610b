// Helpers shared by the call browser tests (F3): a consultation the cardiology specialist has
// answered, and media counters read from every RTCPeerConnection of a call page.
import assert from 'node:assert/strict';

/**
 * The patient page `p` starts a consultation with 陈专家 and the doctor page `d` answers it (calls
 * need the doctor on board). Returns the conversation URL.
 */
export async function consultationWithSpecialist(base, p, d, complaint) {
  await p.goto(`${base}/consultations/new`);
  const specialist = await p.$eval('select[name=target]', (s) =>
    [...s.options].find((o) => o.value.startsWith('doctor:') && o.textContent.includes('陈专家')).value);
  await p.selectOption('select[name=target]', specialist);
  await p.fill('textarea[name=complaint]', complaint);
  await Promise.all([p.waitForURL(/\/consultations\/[0-9a-f-]+$/), p.click('#new-consultation button.primary')]);
  const conversation = p.url();
  await d.goto(conversation);
  await d.fill('#composer textarea', '您好，我们视频看一下。');
  await d.click('#composer button');
  await p.waitForFunction(() => document.body.textContent.includes('我们视频看一下'));
  return conversation;
}

/** Inbound media counters per peer (participant id → {framesDecoded, audioPackets}). */
export const inboundByPeer = (page) => page.evaluate(async () => {
  const out = {};
  for (const [id, peer] of window.yiqiaoCall?.peers ?? []) {
    const c = { framesDecoded: 0, audioPackets: 0 };
    (await peer.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') c.framesDecoded += r.framesDecoded ?? 0;
      if (r.type === 'inbound-rtp' && r.kind === 'audio') c.audioPackets += r.packetsReceived ?? 0;
    });
    out[id] = c;
  }
  return out;
});

/** Waits until `page` decodes video and receives audio from `peers` other participants. */
export async function waitForMedia(page, who, peers = 1, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await inboundByPeer(page);
    const flowing = Object.values(last).filter((c) => c.framesDecoded > 10 && c.audioPackets > 20);
    if (flowing.length >= peers) return last;
    await page.waitForTimeout(250);
  }
  assert.fail(`${who}: media from ${peers} peer(s) not received in ${timeoutMs / 1000} s (${JSON.stringify(last)})`);
}

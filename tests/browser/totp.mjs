// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s steps) and a per-account step tracker.
//
// The server accepts each 30-second step only once per account (replay protection), so before
// signing in again with the same secret we wait for the next step to begin. That wait is the only
// sleep in the browser test.
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const STEP_MS = 30_000;

/** Decodes RFC 4648 base32 (case-insensitive, padding and spaces ignored). */
export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = ALPHABET.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP with dynamic truncation. */
export function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 10 ** digits).padStart(digits, '0');
}

export function stepAt(ms = Date.now()) {
  return Math.floor(ms / STEP_MS);
}

export function totp(secretBase32, step = stepAt()) {
  return hotp(base32Decode(secretBase32), step);
}

/** Remembers the last step used per account and hands out codes for a step not yet used. */
export class TotpTracker {
  #last = new Map();

  /**
   * A code for `account` whose step is newer than the last one used for it; waits for the next
   * 30-second window when needed. `log` receives a note when it waits.
   */
  async code(account, secretBase32, log = () => {}) {
    const last = this.#last.get(account);
    let step = stepAt();
    if (last !== undefined && step <= last) {
      // Wait until the next window starts, plus a small margin for clock granularity.
      const waitMs = (last + 1) * STEP_MS - Date.now() + 250;
      log(`waiting ${(waitMs / 1000).toFixed(1)} s for a new TOTP window for ${account}`);
      await new Promise((r) => setTimeout(r, waitMs));
      step = stepAt();
    }
    this.#last.set(account, step);
    return totp(secretBase32, step);
  }
}

// RFC 6238 appendix B test vector (SHA-1, secret "12345678901234567890", T = 59 s → 94287082 for
// 8 digits; the 6-digit code is the last six digits).
export function selfTest() {
  const key = Buffer.from('12345678901234567890', 'ascii');
  const got = hotp(key, Math.floor(59 / 30), 8);
  if (got !== '94287082') throw new Error(`TOTP self-test failed: ${got}`);
  if (base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ').toString('ascii') !== '12345678901234567890') {
    throw new Error('base32 self-test failed');
  }
}

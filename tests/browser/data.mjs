// Fresh, valid test data: resident ID numbers (GB 11643), logins, licence numbers, phones.
import { randomInt } from 'node:crypto';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

export function checkDigit(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK[sum % 11];
}

/** A valid 18-character resident ID: region 110105, birth date 1950–1995, random sequence. */
export function residentId() {
  const year = randomInt(1950, 1996);
  const month = randomInt(1, 13);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const day = randomInt(1, days + 1);
  const seq = String(randomInt(1, 1000)).padStart(3, '0');
  const first17 = `110105${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${seq}`;
  return first17 + checkDigit(first17);
}

/** The same ID with a wrong check digit. */
export function withWrongCheckDigit(id) {
  const right = id[17];
  const wrong = [...'0123456789X'].filter((c) => c !== right)[randomInt(0, 10)];
  return id.slice(0, 17) + wrong;
}

export function maskId(id) {
  return id.slice(0, 6) + '*'.repeat(id.length - 10) + id.slice(-4);
}

export function suffix(n = 8) {
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += abc[randomInt(0, abc.length)];
  return s;
}

export function login(prefix) {
  return `${prefix}.${suffix()}`;
}

export function licenceNumber() {
  let s = String(randomInt(1, 10));
  for (let i = 1; i < 15; i++) s += randomInt(0, 10);
  return s;
}

export function mobilePhone() {
  let s = '139';
  for (let i = 0; i < 8; i++) s += randomInt(0, 10);
  return s;
}

export const PASSWORD = 'Test-pass-2026';

// Browser test of per-institution staff roles and live sessions (issue 11 items 1 and 5), run as
// `node tests/browser/invitations.mjs`.
//
// The demo hospital's admin (desktop) offers the nurse role to the patient `patient2`: the account is
// not staff there, so it is an invitation, listed as pending on the admin's page. patient2 (phone)
// sees it on the profile page, declines, and the admin's list no longer shows it. Then patient2,
// with two tabs open, signs out in one: the other tab, still open, leaves for the sign-in page by
// itself (its socket was closed with the session).
// Screenshots: artifacts/invite-*.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, launch, logout, signInDemo } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
const PHONE_390 = { width: 390, height: 844 };
let server;
let browser;

before(async () => {
  server = await startServer({ logFile: join(ARTIFACTS, 'invite-server.log') });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an admin invites a patient\'s account, which holds nothing until its owner answers', { timeout: 120_000 }, async () => {
  const { page: admin, errors: adminErrors } = await signInDemo(browser, server.base, 'inst-admin', { staff: true, viewport: DESKTOP });
  await admin.goto(`${server.base}/institution`);
  await admin.fill('#staff input[name=login]', 'patient2');
  await admin.selectOption('#staff select[name=role]', 'nurse');
  await Promise.all([admin.waitForURL(/\/institution\?id=/), admin.click('#staff form button')]);
  const pending = admin.locator('#staff tr.pending-invitation');
  await pending.waitFor();
  assert.match(await pending.textContent(), /patient2[\s\S]*护士[\s\S]*待对方接受/);
  await admin.screenshot({ path: join(ARTIFACTS, 'invite-admin-pending-1280.png'), fullPage: true });

  const { page: p, errors: patientErrors } = await signInDemo(browser, server.base, 'patient2', { viewport: PHONE_390 });
  await p.goto(`${server.base}/profile`);
  const card = p.locator('#invitations li.invitation');
  await card.waitFor();
  assert.match(await card.textContent(), /北京协和|Peking Union/);
  assert.match(await card.textContent(), /护士/);
  await p.screenshot({ path: join(ARTIFACTS, 'invite-patient-profile-390.png'), fullPage: true });
  await Promise.all([p.waitForURL(/\/profile$/), card.locator('form[action$="/decline"] button').click()]);
  assert.equal(await p.locator('#invitations').count(), 0, 'answered: the card is gone');
  const me = await p.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert.deepEqual(me.roles, ['patient'], 'declined: still only a patient');

  await admin.reload();
  assert.equal(await admin.locator('#staff tr.pending-invitation').count(), 0, 'the admin no longer waits on it');
  assert.deepEqual(adminErrors, []);
  assert.deepEqual(patientErrors, []);
});

test('signing out in one tab takes the other tab of that session to the sign-in page', { timeout: 90_000 }, async () => {
  const { ctx, page: first, errors } = await signInDemo(browser, server.base, 'patient2', { viewport: PHONE_390 });
  const second = await ctx.newPage();
  await second.goto(`${server.base}/consultations`);
  // The second tab's live socket is open once the page's modules ran.
  await second.waitForLoadState('networkidle');
  await logout(first);
  await second.waitForURL(/\/login\?next=%2Fconsultations/, { timeout: 10_000 });
  await second.screenshot({ path: join(ARTIFACTS, 'invite-other-tab-signed-out-390.png') });
  assert.deepEqual(errors, []);
});

// Browser end-to-end test of the Yiqiao web app, run as `node tests/browser/run.mjs`.
//
// Starts `yiqiao serve --demo` (YIQIAO_BIN, fresh data dir, free loopback port), drives headless
// Chromium (playwright-core, /usr/bin/chromium) through the whole first-day flow, once in Chinese
// and once in English:
//   patient registration (with a rejected wrong check digit first) → home with the masked ID;
//   doctor registration → TOTP enrolment → verification upload (PNG + JPEG) → pending;
//   demo admin signs in with TOTP → approves the doctor in the review queue;
//   doctor signs in again with a new TOTP code → home shows the approval.
// Every page visited is saved to artifacts/<lang>-<who>-<page>-{360,1280}.png.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  alertText, freshDir, h1, htmlLang, launch, logout, makeImages, pathOf, PHONE, snap, submit, visit,
} from './browser.mjs';
import * as data from './data.mjs';
import { startServer } from './server.mjs';
import { selfTest, TotpTracker } from './totp.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(HERE, 'artifacts');

const DEMO_ADMIN = 'admin';
const DEMO_PASSWORD = 'Yiqiao-demo-2026';
const DEMO_TOTP_SECRET = 'JBSWY3DPEHPK3PXP';

/** Texts from crates/web/locales/messages.toml that the flow checks, per language. */
const TEXT = {
  'zh-CN': {
    landing: '医桥 · 在线问诊与远程医疗',
    register: '患者注册',
    doctorRegister: '医生注册',
    totp: '设置双重验证',
    verify: '医师执业认证',
    login: '登录',
    queue: '医师认证审核',
    pending: '审核中',
    approved: '已通过',
    hello: '您好，',
    doctorReady: '认证已通过，您可以接诊。',
    checksum: '证件号码校验位不正确，请核对。',
  },
  en: {
    landing: 'Yiqiao · online consultation and telemedicine',
    register: 'Patient registration',
    doctorRegister: 'Doctor registration',
    totp: 'Set up two-factor authentication',
    verify: 'Doctor verification',
    login: 'Sign in',
    queue: 'Doctor verification review',
    pending: 'Under review',
    approved: 'Approved',
    hello: 'Hello, ',
    doctorReady: 'You are verified and can take consultations.',
    checksum: "The document number's check digit is wrong; please check it.",
  },
};

const NAMES = {
  'zh-CN': { patient: () => `测试${'明华立新'[Math.floor(Math.random() * 4)]}`, doctor: () => '王测试' },
  en: { patient: () => 'Alex Tester', doctor: () => 'Dr Robin Example' },
};

let server;
let browser;
let filesDir;
let docs; // { png, jpeg, pngPath, jpegPath }
const layoutNotes = [];
const totp = new TotpTracker();

before(async () => {
  selfTest();
  freshDir(ARTIFACTS);
  server = await startServer({ logFile: join(ARTIFACTS, 'server.log') });
  browser = await launch();
  // Real images for the verification upload, drawn by the browser itself.
  const page = await browser.newPage();
  const imgs = await makeImages(page);
  await page.close();
  filesDir = mkdtempSync(join(tmpdir(), 'yiqiao-e2e-files-'));
  process.on('exit', () => rmSync(filesDir, { recursive: true, force: true }));
  docs = { ...imgs, pngPath: join(filesDir, 'licence.png'), jpegPath: join(filesDir, 'employment.jpg') };
  writeFileSync(docs.pngPath, docs.png);
  writeFileSync(docs.jpegPath, docs.jpeg);
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (filesDir) rmSync(filesDir, { recursive: true, force: true });
  writeFileSync(join(ARTIFACTS, 'layout-notes.txt'), layoutNotes.length ? `${layoutNotes.join('\n')}\n` : 'none\n');
  for (const n of layoutNotes) console.log(`# layout: ${n}`);
});

/** Runs named steps as subtests; once one fails the rest are skipped, with a screenshot of where it broke. */
function stepper(t, page, prefix) {
  let broken = null;
  return async (name, fn) => {
    if (broken) {
      await t.test(name, { skip: `earlier step failed: ${broken}` }, () => {});
      return;
    }
    await t.test(name, async (st) => {
      try {
        await fn(st);
      } catch (e) {
        broken = name;
        const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
        await page.screenshot({ path: join(ARTIFACTS, `${prefix}-FAILED-${slug}.png`), fullPage: true }).catch(() => {});
        throw new Error(`${e.message}\n    (page: ${page.url()})`, { cause: e });
      }
    });
  };
}

async function fillPatientForm(page, p) {
  const form = page.locator('form[action="/register"]');
  await form.locator('input[name=name]').fill(p.name);
  await form.locator('select[name=id_kind]').selectOption('resident_id');
  await form.locator('input[name=id_number]').fill(p.id);
  await form.locator('input[name=phone]').fill(p.phone);
  await form.locator('input[name=login]').fill(p.login);
  await form.locator('input[name=password]').fill(p.password);
  await form.locator('input[name=accept_privacy]').check();
  await form.locator('input[name=accept_sensitive]').check();
  return form.locator('button.primary');
}

async function signIn(page, login, password, code) {
  const form = page.locator('form[action="/login"]');
  await form.locator('input[name=login]').fill(login);
  await form.locator('input[name=password]').fill(password);
  if (code) await form.locator('input[name=totp]').fill(code);
  await submit(page, form.locator('button.primary'), '/home');
}

for (const lang of ['zh-CN', 'en']) {
  const L = lang === 'en' ? 'en' : 'zh';
  const T = TEXT[lang];

  test(`${lang}: patient + doctor registration, TOTP, verification upload, admin approval, doctor sign-in`,
    { timeout: 240_000 }, async (t) => {
      // A Chinese browser: without a cookie the app serves zh-CN; the English run switches via /lang/en.
      const context = await browser.newContext({ viewport: PHONE, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      context.setDefaultTimeout(15_000);
      context.setDefaultNavigationTimeout(30_000);
      const page = await context.newPage();
      const base = server.base;
      const jsErrors = [];
      page.on('pageerror', (e) => jsErrors.push(`${pathOf(page)}: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        // A form re-rendered with an error status (e.g. 422) is logged as a failed document load;
        // that is expected. Failed sub-resources (CSS, scripts, images) are not.
        if (m.text().startsWith('Failed to load resource') && m.location().url === page.url()) return;
        // The app serves no favicon yet; the browser's automatic request for it is not the page's fault.
        if (new URL(m.location().url || 'about:blank', base).pathname === '/favicon.ico') return;
        jsErrors.push(`${pathOf(page)}: console: ${m.text()} (${m.location().url})`);
      });
      const step = stepper(t, page, L);
      const shot = (name) => snap(page, ARTIFACTS, `${L}-${name}`, layoutNotes);

      const patient = {
        name: NAMES[lang].patient(),
        id: data.residentId(),
        phone: data.mobilePhone(),
        login: data.login(`pt-${L}`),
        password: data.PASSWORD,
      };
      const doctor = { name: NAMES[lang].doctor(), login: data.login(`dr-${L}`), password: data.PASSWORD };
      t.diagnostic(`patient ${patient.login} (${patient.id}), doctor ${doctor.login}`);
      let secret;
      let department; // { id, institution, label }

      try {
        await step('landing page in the right language', async () => {
          await visit(page, `${base}/`);
          assert.equal(await htmlLang(page), 'zh-CN', 'default language');
          if (lang === 'en') {
            // The header's language link goes through GET /lang/en?next=/.
            const link = page.locator('header a.lang');
            assert.equal(await link.getAttribute('href'), '/lang/en?next=/');
            await submit(page, link, '/');
          }
          assert.equal(await htmlLang(page), lang);
          assert.equal(await h1(page), T.landing);
          await shot('landing');
        });

        await step('patient registration rejects a wrong ID check digit and keeps the input', async () => {
          await visit(page, `${base}/register`);
          assert.equal(await h1(page), T.register);
          await shot('patient-register');
          const bad = { ...patient, id: data.withWrongCheckDigit(patient.id) };
          const button = await fillPatientForm(page, bad);
          await submit(page, button, '/register');
          const alert = page.locator('.alert.error');
          await alert.waitFor();
          assert.equal((await alert.innerText()).trim(), T.checksum);
          const form = page.locator('form[action="/register"]');
          assert.equal(await form.locator('input[name=name]').inputValue(), patient.name, 'name kept');
          assert.equal(await form.locator('input[name=id_number]').inputValue(), bad.id, 'ID number kept');
          assert.equal(await form.locator('input[name=login]').inputValue(), patient.login, 'login kept');
          assert.equal(await form.locator('input[name=password]').inputValue(), '', 'password not echoed back');
          assert.ok(await form.locator('input[name=accept_privacy]').isChecked(), 'privacy consent kept');
          await shot('patient-register-error');
        });

        await step('patient registers and home shows the masked ID number', async () => {
          const button = await fillPatientForm(page, patient);
          await submit(page, button, '/home');
          assert.ok((await h1(page)).startsWith(T.hello), `greeting: ${await h1(page)}`);
          const card = page.locator('section[data-role=patient]');
          const masked = data.maskId(patient.id);
          assert.match(masked, /^110105\*{8}\d{3}[\dX]$/);
          assert.ok((await card.innerText()).includes(masked), `patient card shows ${masked}`);
          assert.ok(!(await page.content()).includes(patient.id), 'full ID number must not appear in the page');
          await shot('patient-home');
          await logout(page);
        });

        await step('doctor registers and enrols a TOTP second factor', async () => {
          await visit(page, `${base}/register?as=doctor`);
          assert.equal(await h1(page), T.doctorRegister);
          await shot('doctor-register');
          const form = page.locator('form[action="/register/doctor"]');
          await form.locator('input[name=name]').fill(doctor.name);
          await form.locator('input[name=login]').fill(doctor.login);
          await form.locator('input[name=password]').fill(doctor.password);
          await form.locator('input[name=accept_privacy]').check();
          await form.locator('input[name=accept_sensitive]').check();
          await submit(page, form.locator('button.primary'), '/totp');
          assert.equal(await h1(page), T.totp);
          secret = (await page.locator('code#totp-secret').innerText()).trim();
          assert.match(secret, /^[A-Z2-7]{16,}=*$/, 'base32 secret');
          await shot('doctor-totp');
          const code = await totp.code(doctor.login, secret, (m) => t.diagnostic(m));
          const tf = page.locator('form[action="/totp"]');
          await tf.locator('input[name=totp]').fill(code);
          await submit(page, tf.locator('button.primary'), '/doctor/verification');
          assert.equal(await h1(page), T.verify);
          await shot('doctor-verification');
        });

        await step('doctor uploads licence and employment proof; status is pending', async () => {
          const form = page.locator('form#verify-form');
          await form.locator('input[name=licence_number]').fill(data.licenceNumber());
          await form.locator('select[name=title]').selectOption('attending');
          // Prefer a department of another institution than the first option, so the script's
          // change handler (not just its initial sync) fills the hidden institution_id.
          const options = await form.locator('select[name=department_id] option').evaluateAll((os) =>
            os.map((o) => ({ id: o.value, institution: o.dataset.institution, label: o.textContent.trim() })));
          assert.ok(options.length > 0, 'department options');
          const inst = form.locator('input[name=institution_id]');
          assert.equal(await inst.inputValue(), options[0].institution, 'hidden institution_id synced on load');
          department = options.find((o) => o.institution !== options[0].institution) ?? options[0];
          await form.locator('select[name=department_id]').selectOption(department.id);
          assert.equal(await inst.inputValue(), department.institution, 'hidden institution_id follows the department');
          await form.locator('input[name=specialties]').fill(lang === 'en' ? 'Hypertension, diabetes' : '高血压、糖尿病');
          await form.locator('input[name=licence_photo]').setInputFiles(docs.pngPath);
          await form.locator('input[name=employment_proof]').setInputFiles(docs.jpegPath);
          await submit(page, form.locator('button.primary'), '/doctor/verification');
          const status = page.locator('#verification-status');
          await status.waitFor().catch(async () => assert.fail(`no status shown; alert: ${await alertText(page)}`));
          assert.equal((await status.innerText()).trim(), T.pending);
          assert.match(await status.getAttribute('class'), /\bstatus-pending\b/);
          const deptName = department.label.split(' · ').pop();
          assert.ok((await page.locator('dl.facts').innerText()).includes(deptName), `department ${deptName} shown`);
          assert.equal(await page.locator('form#verify-form').count(), 0, 'no second submission while pending');
          await shot('doctor-verification-pending');
          await logout(page);
        });

        await step('demo admin signs in with TOTP and approves the doctor', async () => {
          await visit(page, `${base}/login`);
          assert.equal(await h1(page), T.login);
          await shot('login');
          await signIn(page, DEMO_ADMIN, DEMO_PASSWORD, await totp.code(DEMO_ADMIN, DEMO_TOTP_SECRET, (m) => t.diagnostic(m)));
          assert.equal(await page.locator('section[data-role=admin]').count(), 1, 'admin section on home');
          t.diagnostic(`admin pages are in ${await htmlLang(page)} (the admin's own language preference)`);
          await shot('admin-home');
          await visit(page, `${base}/admin/verifications`);
          const card = page.locator(`section.review[data-login="${doctor.login}"]`);
          await card.waitFor();
          // The uploaded documents come back byte for byte with their type.
          for (const [which, bytes, type] of [['licence', docs.png, 'image/png'], ['employment', docs.jpeg, 'image/jpeg']]) {
            const href = await card.locator(`a[href$="/documents/${which}"]`).getAttribute('href');
            const res = await page.request.get(`${base}${href}`);
            assert.equal(res.status(), 200, `GET ${href}`);
            assert.equal(res.headers()['content-type'], type, `${which} content type`);
            assert.ok(Buffer.compare(await res.body(), bytes) === 0, `${which} bytes round-trip`);
          }
          await shot('admin-queue');
          await submit(page, card.locator('button[name=decision][value=approve]'), '/admin/verifications');
          const alert = await alertText(page);
          assert.equal(alert, null, `approval error: ${alert}`);
          assert.equal(await card.count(), 0, 'approved request left the queue');
          await shot('admin-queue-approved');
          await logout(page);
        });

        await step('doctor signs in with a fresh TOTP code and sees the approval', async () => {
          await visit(page, `${base}/login`);
          assert.equal(await htmlLang(page), lang, 'language kept after the admin signed out');
          assert.equal(await h1(page), T.login);
          const code = await totp.code(doctor.login, secret, (m) => t.diagnostic(m));
          await signIn(page, doctor.login, doctor.password, code);
          assert.equal(await htmlLang(page), lang, "doctor's language preference");
          const card = page.locator('section[data-role=doctor]');
          const status = card.locator('dd.status-approved');
          assert.equal(await status.count(), 1, `approved status on home; doctor card says: ${await card.innerText()}`);
          assert.equal((await status.innerText()).trim(), T.approved);
          assert.ok((await card.innerText()).includes(T.doctorReady), 'doctor-ready note');
          await shot('doctor-home-approved');
          await visit(page, `${base}/doctor/verification`);
          assert.equal((await page.locator('#verification-status').innerText()).trim(), T.approved);
          await shot('doctor-verification-approved');
          await logout(page);
        });

        await step('no JavaScript errors on any page', async () => {
          assert.deepEqual(jsErrors, []);
        });
      } finally {
        await context.close();
      }
    });
}

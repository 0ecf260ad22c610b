// Browser test of a consultation (A1, A2, A7), run as `node tests/browser/consult.mjs`.
//
// Two Chromium contexts against `yiqiao serve --demo`: the demo patient (phone width) starts a
// priority consultation with the cardiology team and sees the 120 notice; the demo specialist
// (desktop) sees it in the queue with a live countdown, answers; both sides see each other's
// messages live over the WebSocket with read marks; the specialist closes with an ICD-10
// diagnosis; the patient rates and exports the record as FHIR and PDF. Screenshots:
// artifacts/consult-*.png; downloads: artifacts/consult-export.{fhir.json,pdf}, consult-record.pdf.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, launch, makeImages, PHONE, signInDemo } from './browser.mjs';
import { startServer } from './server.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
let server;
let browser;

before(async () => {
  server = await startServer({ logFile: join(ARTIFACTS, 'consult-server.log') });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const signIn = (login, viewport, staff) => signInDemo(browser, server.base, login, { viewport, staff });

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `consult-${name}.png`), fullPage: true });

test('patient and doctor hold a consultation live, end to end', { timeout: 120_000 }, async () => {
  const patient = await signIn('patient', PHONE, false);
  const doctor = await signIn('specialist', DESKTOP, true);
  const p = patient.page;
  const d = doctor.page;

  // The doctor watches the queue while the patient asks.
  await d.goto(`${server.base}/consultations`);
  await p.goto(`${server.base}/consultations/new`);
  const cardiology = await p.$eval('select[name=target]', (s) =>
    [...s.options].find((o) => o.value.startsWith('department:') && o.textContent.includes('心内科')).value);
  await p.selectOption('select[name=target]', cardiology);
  await p.fill('textarea[name=complaint]', '今天早上胸痛，出冷汗，血压 170/105');
  assert.equal(await p.isVisible('#red-flag'), true, 'the 120 notice shows while typing');
  await shot(p, 'patient-new-360');
  await Promise.all([p.waitForURL(/\/consultations\/[0-9a-f-]+$/), p.click('#new-consultation button.primary')]);
  assert.match(await p.textContent('.emergency'), /120/, 'the red flag notice stays on the conversation');
  assert.match(await p.textContent('.badge.red'), /优先/, 'red-flag words make it a priority consultation');

  // The queue updates by itself and shows the countdown (priority: about 15 minutes).
  await d.waitForSelector('.queue-item.priority .countdown', { timeout: 10_000 });
  const left = await d.textContent('.queue-item.priority .countdown');
  assert.match(left, /^1[45]:\d\d$/, `countdown near 15:00, got ${left}`);
  await shot(d, 'doctor-queue-1280');
  await Promise.all([d.waitForURL(/\/consultations\/[0-9a-f-]+$/), d.click('.queue-item.priority a')]);
  assert.match(await d.textContent('.audited'), /记录/, 'the doctor is told the access is audited');

  // Live both ways.
  await d.fill('#composer textarea', '请立即拨打120或去最近的急诊，不要自己开车。');
  await d.click('#composer button');
  await p.waitForFunction(() => [...document.querySelectorAll('.msg:not(.mine) .bubble')].some((b) => b.textContent.includes('120')));
  // A photo from the patient's phone appears on the doctor's screen as a thumbnail.
  const { jpeg } = await makeImages(p);
  await p.setInputFiles('#attach input[type=file]', { name: 'ecg.jpg', mimeType: 'image/jpeg', buffer: jpeg });
  await p.waitForSelector('.msg.mine .bubble.photo img');
  await d.waitForSelector('.msg:not(.mine) .bubble.photo img', { timeout: 10_000 });
  await d.waitForFunction(() => [...document.querySelectorAll('.bubble.photo img')].every((i) => i.complete && i.naturalWidth > 0));
  // A4: the doctor circles something on the photo; the patient sees the mark over the image.
  const conversation = d.url();
  await Promise.all([d.waitForURL(/\/attachments\//), d.click('.msg:not(.mine) .bubble.photo')]);
  const box = await d.locator('#overlay').boundingBox();
  await d.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await d.mouse.down();
  await d.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.55, { steps: 5 });
  await d.mouse.up();
  await d.click('#save');
  await d.waitForSelector('#saved:not([hidden])');
  await shot(d, 'doctor-annotate-1280');
  const chatUrl = p.url();
  await Promise.all([p.waitForURL(/\/attachments\//), p.click('.msg.mine .bubble.photo')]);
  await p.waitForSelector('#overlay ellipse');
  await shot(p, 'patient-annotation-360');
  await p.uncheck('#show-overlay');
  assert.equal(await p.isVisible('#overlay ellipse'), false, 'the patient can hide the marks');
  await p.goto(chatUrl);
  await d.goto(conversation);
  await p.fill('#composer textarea', '好的，家人正在送我去医院。');
  await p.click('#composer button');
  await d.waitForFunction(() => [...document.querySelectorAll('.msg:not(.mine) .bubble')].some((b) => b.textContent.includes('家人')));
  await d.waitForFunction(() => [...document.querySelectorAll('.msg.mine .receipt')].some((r) => r.textContent === '已读'), null, { timeout: 10_000 });
  assert.equal(await d.isVisible('.sla'), false, 'the response clock stops with the first answer');
  await shot(p, 'patient-chat-360');
  await shot(d, 'doctor-chat-1280');

  // A5: a medication plan arrives on the patient's phone as a table.
  await d.click('#plan-box summary');
  await d.fill('input[name=drug_0]', '阿司匹林肠溶片');
  await d.fill('input[name=dose_0]', '100 mg');
  await d.check('input[name=time_0_morning]');
  await d.fill('input[name=days_0]', '30');
  await Promise.all([d.waitForLoadState('load'), d.click('#plan-box button.primary')]);
  await p.waitForSelector('.card-plan table.plan td', { timeout: 10_000 });
  assert.match(await p.textContent('.card-plan'), /阿司匹林肠溶片.*100 mg.*早.*30/s);
  await shot(p, 'patient-plan-360');

  // A6: an education article; the patient keeps it in the health record with one tap.
  await d.click('#article-box summary');
  await d.selectOption('#article-box select[name=slug]', 'home-blood-pressure');
  await Promise.all([d.waitForLoadState('load'), d.click('#article-box button')]);
  await p.waitForSelector('.card-article .save-article button', { timeout: 10_000 });
  await Promise.all([p.waitForLoadState('load'), p.click('.card-article .save-article button')]);
  const chatAgain = p.url();
  await p.goto(`${server.base}/health-record`);
  assert.match(await p.textContent('#saved-articles'), /如何在家正确测血压/);
  await shot(p, 'patient-health-record-360');
  await p.goto(chatAgain);

  // A6: a calculator result: the doctor enters a blood pressure; the server grades it; the card
  // arrives live on the patient's phone.
  await d.click('#calc-box summary');
  await d.selectOption('#calc-choice', 'blood_pressure');
  assert.equal(await d.isVisible('#calc-box fieldset[data-calc="bmi"]'), false, 'only the chosen calculator shows');
  await d.fill('input[name=systolic]', '168');
  await d.fill('input[name=diastolic]', '102');
  await Promise.all([d.waitForLoadState('load'), d.click('#calc-box button')]);
  await p.waitForSelector('.card-calc', { timeout: 10_000 });
  assert.match(await p.textContent('.card-calc'), /168\/102.*2级高血压/s);
  await p.locator('.card-calc').scrollIntoViewIfNeeded();
  await shot(p, 'patient-calculator-360');

  // Close with a diagnosis; the patient's page follows and the patient rates.
  await d.click('details.close-box summary');
  await d.fill('textarea[name=summary]', '胸痛伴出汗，疑似急性冠脉综合征，已建议立即急诊。');
  await d.fill('input[name=diagnoses]', 'I20.0, R07.4');
  await Promise.all([d.waitForLoadState('load'), d.click('details.close-box button.primary')]);
  await d.waitForSelector('#closing');
  await p.waitForSelector('#rating', { timeout: 10_000 });
  await p.check('input[name=stars][value="5"]');
  await p.fill('textarea[name=comment]', '回复很及时');
  await Promise.all([p.waitForLoadState('load'), p.click('#rating button.primary')]);
  assert.match(await p.textContent('#closing'), /5\/5/);
  assert.match(await p.textContent('#closing'), /I20\.0/);
  await shot(p, 'patient-closed-360');

  // C2: the patient finds the consultation again by a word from the conversation.
  const closedUrl = p.url();
  await p.goto(`${server.base}/search`);
  await p.fill('#search input[name=q]', '阿司匹林');
  await Promise.all([p.waitForLoadState('load'), p.click('#search button.primary')]);
  assert.equal(await p.locator('#results .queue-item').count(), 1, 'the keyword finds this consultation');
  await shot(p, 'patient-search-360');
  await p.goto(closedUrl);

  // C3: the patient exports the record; the password is asked first (step-up), then it downloads.
  await Promise.all([p.waitForURL(/\/step-up/), p.click('#export-fhir')]);
  await shot(p, 'patient-step-up-360');
  await p.fill('input[name=password]', 'Yiqiao-demo-2026');
  const [download] = await Promise.all([p.waitForEvent('download'), p.click('form[action="/step-up"] button.primary')]);
  const file = join(ARTIFACTS, 'consult-export.fhir.json');
  await download.saveAs(file);
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(bundle.resourceType, 'Bundle');
  assert.ok(bundle.entry.some((e) => e.resource.resourceType === 'Condition' && e.resource.code.coding[0].code === 'I20.0'));

  // C3: the same record as PDF (the step-up is still fresh), with the annotated photo inside.
  await p.goto(chatAgain);
  const [pdfDownload] = await Promise.all([p.waitForEvent('download'), p.click('#export-pdf')]);
  const pdfFile = join(ARTIFACTS, 'consult-export.pdf');
  await pdfDownload.saveAs(pdfFile);
  const pdf = readFileSync(pdfFile);
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.ok(pdf.length > 20_000, `a PDF with the font subset and the photo, got ${pdf.length} bytes`);
  assert.match(pdf.subarray(-64).toString('latin1'), /%%EOF\s*$/);
  assert.match(pdf.toString('latin1'), /\/Subtype\s*\/Image/, 'the photo is embedded');
  // The whole record from the health-record page.
  await p.goto(`${server.base}/health-record`);
  const [recordDownload] = await Promise.all([p.waitForEvent('download'), p.click('#export-record-pdf')]);
  const recordFile = join(ARTIFACTS, 'consult-record.pdf');
  await recordDownload.saveAs(recordFile);
  assert.equal(readFileSync(recordFile).subarray(0, 5).toString('latin1'), '%PDF-');
  assert.deepEqual(patient.errors, [], 'no script errors on the patient side');
  assert.deepEqual(doctor.errors, [], 'no script errors on the doctor side');
});

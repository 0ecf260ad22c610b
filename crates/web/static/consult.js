// Live parts of the consultation pages (A1, A2): countdowns, the WebSocket for new messages,
// receipts and typing, sending without a page reload, and catch-up by sequence after reconnecting.
// Everything here is an enhancement: the forms work without it.

import { setupVoice, voiceBubble } from './voice.js';

const i18n = document.getElementById('i18n')?.dataset ?? {};
const calcI18n = document.getElementById('calc-i18n');

// A6: the calculator form shows only the chosen calculator's inputs (all of them without script).
const calcChoice = document.getElementById('calc-choice');
if (calcChoice) {
  const showChosen = () => {
    for (const fs of document.querySelectorAll('.calc-form fieldset[data-calc]')) {
      const on = fs.dataset.calc === calcChoice.value;
      fs.hidden = !on;
      fs.disabled = !on;
    }
  };
  calcChoice.addEventListener('change', showChosen);
  showChosen();
}

// Countdowns: "mm:ss" left, red when overdue.
function tick() {
  for (const el of document.querySelectorAll('.countdown[data-due]')) {
    const left = Math.round((Date.parse(el.dataset.due) - Date.now()) / 1000);
    const abs = Math.abs(left);
    const text = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    el.textContent = left >= 0 ? text : `${i18n.overdue ?? '+'} ${text}`;
    el.classList.toggle('overdue', left < 0);
    el.classList.toggle('soon', left >= 0 && left < 300);
  }
}
tick();
setInterval(tick, 1000);

// Red-flag hint while typing the complaint (the server decides for real).
const complaint = document.querySelector('[data-red-flag-check]');
if (complaint) {
  const words = ['胸痛', '胸闷', '呼吸困难', '喘不上气', '意识不清', '昏迷', '晕厥', '大出血', '吐血', '口角歪斜', '说话不清', '自杀', '不想活', 'chest pain', 'breath', 'unconscious', 'faint', 'bleeding', 'stroke', 'suicid', 'kill myself'];
  const box = document.getElementById('red-flag');
  const check = () => { const t = complaint.value.toLowerCase(); box.hidden = !words.some((w) => t.includes(w)); };
  complaint.addEventListener('input', check);
  check();
}

const chat = document.getElementById('chat');
const queue = document.getElementById('queue');

function connect(onEvent) {
  let delay = 500;
  let ws;
  const open = () => {
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    ws.onopen = () => { delay = 500; document.body.classList.remove('reconnecting'); onEvent({ type: 'open' }); };
    ws.onmessage = (e) => { try { onEvent(JSON.parse(e.data)); } catch { /* ignore malformed */ } };
    ws.onclose = () => { document.body.classList.add('reconnecting'); setTimeout(open, delay); delay = Math.min(delay * 2, 10000); };
  };
  open();
  return { send: (obj) => ws?.readyState === 1 && ws.send(JSON.stringify(obj)) };
}

if (queue) {
  // The queue reloads itself when something arrives for it.
  let pending = false;
  connect((ev) => {
    if (['consultation', 'claimed', 'escalated', 'message', 'closed'].includes(ev.type) && !pending) {
      pending = true;
      setTimeout(() => location.reload(), 300);
    }
  });
}

if (chat) {
  const id = chat.dataset.id;
  const me = chat.dataset.me;
  const list = document.getElementById('messages');
  const csrf = chat.dataset.csrf;
  let lastSeq = Number(chat.dataset.lastSeq);
  const seen = new Set([...list.querySelectorAll('[data-seq]')].map((li) => Number(li.dataset.seq)));

  const receipt = (seq, readSeq) => (seq <= readSeq ? i18n.read : i18n.sent);
  function add(m) {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    lastSeq = Math.max(lastSeq, m.seq);
    const li = document.createElement('li');
    li.dataset.seq = m.seq;
    if (m.recording) {
      // F3: a consented call recording, playable here (participants and care team; audited).
      li.className = 'msg system recording-entry';
      const note = document.createElement('div');
      note.className = 'bubble';
      const title = document.createElement('strong');
      const d = m.recording.duration_secs;
      title.textContent = `${i18n.recording} · ${String(Math.floor(d / 60)).padStart(2, '0')}:${String(d % 60).padStart(2, '0')}`;
      const player = document.createElement(m.recording.content_type.startsWith('video/') ? 'video' : 'audio');
      player.controls = true;
      player.preload = 'metadata';
      player.setAttribute('playsinline', '');
      player.src = `/api/v1/recordings/${m.recording.recording_id}`;
      note.append(title, ` · ${m.sender_name}`, player);
      li.append(note);
      list.append(li);
      return;
    }
    if (m.kind === 'handover' || m.call) {
      li.className = m.call ? 'msg system call-entry' : 'msg system';
      const note = document.createElement('div');
      note.className = 'bubble';
      if (m.call) {
        // A1: the call in the timeline, e.g. "🎥 视频通话 · 03:25".
        const kind = i18n[m.call.kind === 'video' ? 'callVideo' : 'callVoice'];
        const outcome = m.call.state === 'ended'
          ? `${String(Math.floor(m.call.duration_secs / 60)).padStart(2, '0')}:${String(m.call.duration_secs % 60).padStart(2, '0')}`
          : i18n[`call${m.call.state[0].toUpperCase()}${m.call.state.slice(1)}`] ?? m.call.state;
        note.textContent = `${m.call.kind === 'video' ? '🎥' : '📞'} ${kind} · ${outcome} · ${m.sender_name}`;
      } else {
        note.textContent = `${m.sender_name} ${m.text}`;
      }
      li.append(note);
      list.append(li);
      return;
    }
    li.className = `msg${m.sender === me ? ' mine' : ''}`;
    let bubble;
    if (m.article) {
      // A6: an education article, with one-tap saving on the patient side.
      bubble = document.createElement('div');
      bubble.className = 'bubble card-article';
      const title = document.createElement('strong');
      title.textContent = i18n.eduCard;
      const link = document.createElement('a');
      link.href = `/articles/${m.article.slug}?from=${id}`;
      link.textContent = document.documentElement.lang === 'en' ? m.article.title_en : m.article.title_zh;
      bubble.append(title, document.createElement('br'), link);
      if (chat.dataset.asPatient === 'true') {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/health-record/articles';
        form.className = 'inline save-article';
        for (const [k, v] of [['csrf', csrf], ['slug', m.article.slug], ['consultation_id', id]]) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = k;
          input.value = v;
          form.append(input);
        }
        const b = document.createElement('button');
        b.className = 'link';
        b.textContent = i18n.eduSave;
        form.append(' ', b);
        bubble.append(form);
      }
    } else if (m.calculator) {
      // A6: a calculator result: inputs, value, band and basis.
      const calc = m.calculator;
      const label = (k) => calcI18n?.getAttribute(`data-calc-${k}`) ?? k;
      const zh = document.documentElement.lang !== 'en';
      bubble = document.createElement('div');
      bubble.className = `bubble card-calc${calc.alert ? ' alert' : ''}`;
      const title = document.createElement('strong');
      title.textContent = label(calc.calculator);
      const dl = document.createElement('dl');
      dl.className = 'calc';
      for (const f of calc.inputs) {
        const dt = document.createElement('dt');
        dt.textContent = label(`field.${f.key}`);
        const dd = document.createElement('dd');
        dd.textContent = f.key === 'sex' ? label(`sex.${f.value}`) : f.value;
        dl.append(dt, dd);
      }
      const result = document.createElement('p');
      result.className = 'calc-result';
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = calc.value;
      const band = document.createElement('span');
      band.className = 'band';
      band.textContent = zh ? calc.band_zh : calc.band_en;
      result.append(value, ` ${calc.unit} · `, band);
      const basis = document.createElement('small');
      basis.textContent = `${label('basis')}: ${calc.basis}`;
      bubble.append(title, dl, result, basis);
    } else if (m.plan) {
      // A5: the medication plan as a table.
      bubble = document.createElement('div');
      bubble.className = 'bubble card-plan';
      const title = document.createElement('strong');
      title.textContent = i18n.planTitle;
      const table = document.createElement('table');
      table.className = 'plan';
      const head = table.createTHead().insertRow();
      for (const h of [i18n.planDrug, i18n.planDose, i18n.planTimes, i18n.planDays]) {
        const th = document.createElement('th');
        th.textContent = h;
        head.append(th);
      }
      const body = table.createTBody();
      for (const r of m.plan.rows) {
        const tr = body.insertRow();
        tr.insertCell().textContent = r.note ? `${r.drug} (${r.note})` : r.drug;
        tr.insertCell().textContent = r.dose;
        const when = tr.insertCell();
        for (const t of r.times) {
          const s = document.createElement('span');
          s.className = 'slot';
          s.textContent = i18n[`slot${t[0].toUpperCase()}${t.slice(1)}`] ?? t;
          when.append(s);
        }
        tr.insertCell().textContent = String(r.days);
      }
      bubble.append(title, table);
    } else if (m.kind === 'voice' && m.attachment) {
      // A1: a voice message plays inline, with its length.
      bubble = voiceBubble(m, i18n.voice);
    } else if (m.attachment) {
      bubble = document.createElement('a');
      bubble.href = `/api/v1/attachments/${m.attachment.id}`;
      bubble.target = '_blank';
      if (m.kind === 'image') {
        bubble.href = `/attachments/${m.attachment.id}`;
        bubble.removeAttribute('target');
        bubble.className = 'bubble photo';
        const img = document.createElement('img');
        img.src = `/api/v1/attachments/${m.attachment.id}?thumb=1`;
        img.alt = m.attachment.name;
        bubble.append(img);
      } else {
        bubble.className = 'bubble file';
        bubble.textContent = `PDF · ${m.attachment.name}`;
      }
    } else {
      bubble = document.createElement('div');
      bubble.className = 'bubble';
      bubble.textContent = m.text;
    }
    const meta = document.createElement('div');
    meta.className = 'meta';
    const t = new Date(m.sent_at);
    meta.textContent = `${m.sender_name} · ${String(t.getMonth() + 1).padStart(2, '0')}-${String(t.getDate()).padStart(2, '0')} ${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`;
    if (m.sender === me) {
      const r = document.createElement('span');
      r.className = 'receipt';
      r.textContent = i18n.sent;
      meta.append(' · ', r);
    }
    li.append(bubble, meta);
    // Keep sequence order even if events arrive out of order.
    const after = [...list.children].find((x) => Number(x.dataset.seq) > m.seq);
    list.insertBefore(li, after ?? null);
    li.scrollIntoView({ block: 'end' });
  }
  async function catchUp() {
    const r = await fetch(`/api/v1/consultations/${id}/messages?after=${lastSeq}`, { credentials: 'same-origin' });
    if (r.ok) (await r.json()).items.forEach(add);
    markRead();
  }
  let readTimer;
  function markRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(() => sock.send({ type: 'read', consultation_id: id, seq: lastSeq }), 200);
  }
  const typing = document.getElementById('typing');
  let typingTimer;
  const sock = connect((ev) => {
    if (ev.type === 'open' || ev.type === 'resync') catchUp();
    if (ev.type === 'message' && ev.message.consultation_id === id) {
      add(ev.message);
      if (ev.message.sender !== me) { typing.hidden = true; markRead(); }
      const st = document.getElementById('status');
      if (st && ev.status) {
        st.className = `badge status-${ev.status}`;
        st.textContent = i18n[`status${ev.status[0].toUpperCase()}${ev.status.slice(1)}`] ?? ev.status;
      }
      if (ev.message.sender_role === 'doctor') {
        // The first answer stops the response clock and claims a team consultation.
        document.querySelector('.sla')?.remove();
        document.getElementById('claim')?.remove();
        const peer = document.getElementById('peer');
        if (peer && ev.message.sender !== me && chat.dataset.asPatient === 'true') peer.textContent = ev.message.sender_name;
      }
    }
    if (ev.type === 'read' && ev.consultation_id === id && ev.user !== me) {
      for (const li of list.querySelectorAll('.msg.mine')) {
        const r = li.querySelector('.receipt');
        if (r) r.textContent = receipt(Number(li.dataset.seq), ev.read_seq);
      }
    }
    if (ev.type === 'typing' && ev.consultation_id === id && ev.user !== me) {
      typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typing.hidden = true; }, 4000);
    }
    if ((ev.type === 'closed' || ev.type === 'claimed') && ev.consultation_id === id) location.reload();
  });
  const form = document.getElementById('composer');
  if (form) {
    const text = form.querySelector('textarea');
    let lastTyping = 0;
    text.addEventListener('input', () => {
      if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); sock.send({ type: 'typing', consultation_id: id }); }
    });
    text.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      // The client id makes a resend after a dropped connection idempotent.
      const clientId = crypto.randomUUID().replaceAll('-', '');
      const button = form.querySelector('button');
      button.disabled = true;
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          const r = await fetch(`/api/v1/consultations/${id}/messages`, {
            method: 'POST', credentials: 'same-origin',
            headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
            body: JSON.stringify({ client_id: clientId, text: body }),
          });
          if (r.ok) { add(await r.json()); text.value = ''; break; }
          const err = await r.json().catch(() => null);
          alert(err?.error?.message ?? r.statusText);
          break;
        } catch { await new Promise((res) => setTimeout(res, 500 * (attempt + 1))); }
      }
      button.disabled = false;
      text.focus();
    });
  }
  // Photos and reports: uploaded with a progress bar, shown as soon as they are stored.
  const attach = document.getElementById('attach');
  if (attach) {
    const input = attach.querySelector('input[type=file]');
    const bar = document.getElementById('upload-progress');
    attach.querySelector('.attach-send').hidden = true;
    input.addEventListener('change', () => {
      const file = input.files[0];
      if (!file) return;
      const data = new FormData();
      data.append('client_id', crypto.randomUUID().replaceAll('-', ''));
      data.append('file', file);
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `/api/v1/consultations/${id}/attachments`);
      xhr.setRequestHeader('x-csrf-token', csrf);
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); };
      xhr.onload = () => {
        bar.hidden = true;
        input.value = '';
        try {
          const body = JSON.parse(xhr.responseText);
          // A refusal the page can name in its own language (issue 11 item 3), else the server's words.
          const code = body?.error?.code ?? '';
          const named = i18n[`err${code.replace(/(^|_)(\w)/g, (_, __, ch) => ch.toUpperCase())}`];
          if (xhr.status < 300) add(body); else alert(named ?? body?.error?.message ?? xhr.statusText);
        } catch { alert(xhr.statusText); }
      };
      xhr.onerror = () => { bar.hidden = true; alert(i18n.reconnecting ?? 'Upload failed'); };
      xhr.send(data);
    });
  }
  const voice = document.getElementById('voice');
  if (voice) setupVoice({ root: voice, consultation: id, csrf, onSent: add });
  markRead();
  document.getElementById('end')?.scrollIntoView({ block: 'end' });
}

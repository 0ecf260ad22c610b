// Voice messages in a consultation (A1). On a touch screen the microphone button works like
// WeChat: hold to talk, release to send, slide the finger away to cancel. With a mouse or the
// keyboard a click starts and a second click sends (Cancel discards). The recording is made with
// MediaRecorder (Opus in WebM or Ogg; AAC in MP4 on iOS Safari), uploaded with its measured length
// to the attachments endpoint, and shown as an inline player with that length. Without
// MediaRecorder, over plain http, or without microphone permission, the user is told why.

const MIN_MS = 300;
const MAX_MS = 5 * 60 * 1000;
// A press shorter than this is a click (click-to-start); a longer one is hold-to-talk.
const HOLD_MS = 400;
const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4'];

/** A length as `m:ss`, rounded, at least 0:01 (as the server labels it). */
export function clock(ms) {
  const s = Math.max(1, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const elapsed = (ms) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** The bubble of a `voice` message: a player that loads only when played, and the length. */
export function voiceBubble(m, label) {
  const bubble = document.createElement('div');
  bubble.className = 'bubble voice';
  const audio = document.createElement('audio');
  audio.controls = true;
  audio.preload = 'none';
  audio.src = `/api/v1/attachments/${m.attachment.id}`;
  const length = clock(m.attachment.duration_ms ?? 0);
  audio.setAttribute('aria-label', `${label ?? ''} ${length}`);
  const span = document.createElement('span');
  span.className = 'voice-duration';
  span.textContent = length;
  bubble.append(audio, span);
  return bubble;
}

/** Wires the recorder in `root` (#voice); `onSent(message)` shows the stored message. */
export function setupVoice({ root, consultation, csrf, onSent }) {
  const t = root.dataset;
  const mic = root.querySelector('#mic');
  const label = mic.querySelector('.mic-label');
  const cancel = root.querySelector('#voice-cancel');
  const retry = root.querySelector('#voice-retry');
  const status = root.querySelector('#voice-status');
  const bar = root.querySelector('progress');
  const idleLabel = matchMedia('(pointer: coarse)').matches ? t.hold : t.click;
  root.hidden = false;
  label.textContent = idleLabel;

  let state = 'idle'; // idle | starting | recording | sending
  let mode = null; // hold | click
  let stream = null;
  let rec = null;
  let chunks = [];
  let startedAt = 0;
  let duration = 0;
  let pressAt = 0;
  let away = false;
  let discard = false;
  let timer = null;
  let pending = null;

  const say = (text, error = false) => {
    status.textContent = text ?? '';
    status.classList.toggle('error', error);
  };
  const release = () => {
    stream?.getTracks().forEach((tr) => tr.stop());
    stream = null;
  };
  const reset = () => {
    mic.classList.remove('recording', 'cancelling');
    label.textContent = idleLabel;
    cancel.hidden = true;
    mode = null;
  };
  const show = () => {
    const ms = Date.now() - startedAt;
    const hint = mode === 'hold' ? (away ? t.releaseCancel : t.holdHint) : t.clickHint;
    say(`${t.recording} ${elapsed(ms)} — ${hint}`);
    if (ms >= MAX_MS) stop(true);
  };
  const recordingLabel = () => {
    label.textContent = mode === 'hold' ? (away ? t.releaseCancel : t.holdHint) : t.stop;
    cancel.hidden = mode !== 'click';
  };

  async function start() {
    retry.hidden = true;
    if (!window.isSecureContext) { reset(); say(t.insecure, true); return; }
    if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) { reset(); say(t.unsupported, true); return; }
    state = 'starting';
    away = false;
    discard = false;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      state = 'idle';
      reset();
      say(e?.name === 'NotFoundError' ? t.noMic : t.denied, true);
      return;
    }
    if (state !== 'starting') { release(); return; } // cancelled while the permission was asked
    const type = TYPES.find((x) => MediaRecorder.isTypeSupported?.(x));
    try {
      rec = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    } catch {
      release();
      state = 'idle';
      reset();
      say(t.unsupported, true);
      return;
    }
    chunks = [];
    rec.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    rec.onstop = finish;
    rec.start();
    startedAt = Date.now();
    state = 'recording';
    mic.classList.add('recording');
    recordingLabel();
    show();
    timer = setInterval(show, 250);
  }

  function stop(send) {
    if (state === 'starting') { state = 'idle'; reset(); say(''); return; }
    if (state !== 'recording') return;
    discard = !send;
    state = 'sending';
    clearInterval(timer);
    duration = Date.now() - startedAt;
    rec.stop();
  }

  function finish() {
    release();
    reset();
    if (discard) { state = 'idle'; say(t.cancelled); return; }
    if (duration < MIN_MS) { state = 'idle'; say(t.tooShort, true); return; }
    const blob = new Blob(chunks, { type: rec.mimeType || chunks[0]?.type || '' });
    // The client id makes a retry after a dropped connection idempotent.
    pending = { blob, duration: Math.min(duration, MAX_MS), clientId: crypto.randomUUID().replaceAll('-', '') };
    upload(pending);
  }

  function upload(p) {
    state = 'sending';
    mic.disabled = true;
    retry.hidden = true;
    say(t.sending);
    bar.hidden = false;
    bar.value = 0;
    const ext = p.blob.type.includes('ogg') ? 'ogg' : p.blob.type.includes('mp4') ? 'm4a' : 'webm';
    const data = new FormData();
    data.append('client_id', p.clientId);
    data.append('duration_ms', String(Math.round(p.duration)));
    data.append('file', p.blob, `voice.${ext}`);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/consultations/${consultation}/attachments`);
    xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); };
    const done = () => { state = 'idle'; mic.disabled = false; bar.hidden = true; };
    xhr.onload = () => {
      done();
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: a proxy error page */ }
      if (xhr.status < 300 && body) { pending = null; say(''); onSent(body); return; }
      const code = body?.error?.code;
      const known = { voice_duration: t.errVoiceDuration, voice_too_large: t.errVoiceTooLarge }[code];
      say(known ?? t.failed, true);
      // Only a server or network failure is worth retrying with the same recording.
      retry.hidden = !(xhr.status >= 500 || !body);
    };
    xhr.onerror = () => { done(); say(t.failed, true); retry.hidden = false; };
    xhr.send(data);
  }

  mic.addEventListener('contextmenu', (e) => e.preventDefault());
  mic.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || state === 'sending') return;
    e.preventDefault();
    if (mode === 'click') { stop(true); return; } // the second click sends
    if (state !== 'idle') return;
    mic.setPointerCapture?.(e.pointerId);
    pressAt = Date.now();
    mode = 'hold';
    start();
  });
  mic.addEventListener('pointermove', (e) => {
    if (mode !== 'hold' || state !== 'recording') return;
    const r = mic.getBoundingClientRect();
    const m = 24;
    away = e.clientX < r.left - m || e.clientX > r.right + m || e.clientY < r.top - 2 * m || e.clientY > r.bottom + m;
    mic.classList.toggle('cancelling', away);
    recordingLabel();
  });
  const up = (cancelled) => {
    if (mode !== 'hold') return;
    const short = Date.now() - pressAt < HOLD_MS;
    if (state === 'starting' || (short && !cancelled)) {
      // A quick press (or one that the permission prompt interrupted) keeps recording until a
      // second click.
      mode = 'click';
      if (state === 'recording') { recordingLabel(); show(); }
      return;
    }
    if (state === 'recording') stop(!away && !cancelled);
  };
  mic.addEventListener('pointerup', () => up(false));
  mic.addEventListener('pointercancel', () => up(true));
  // Keyboard (Enter/Space) gives a click with detail 0: start, then send.
  mic.addEventListener('click', (e) => {
    if (e.detail !== 0) return;
    if (state === 'idle') { mode = 'click'; start(); } else if (mode === 'click') stop(true);
  });
  cancel.addEventListener('click', () => stop(false));
  retry.addEventListener('click', () => { if (pending && state === 'idle') upload(pending); });
}

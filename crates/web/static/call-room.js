// The room around a call (F3): who is in it, inviting doctors and guests, the recording consent
// question on everyone's screen, and the doctor's recorder.
//
// Recording: after the doctor asks, every participant answers on their own screen; the server
// starts a recording only when everyone in the call has consented. The doctor's browser mixes the
// audio of everyone who consented (Web Audio) and, for video calls, draws their pictures into one
// canvas; MediaRecorder cuts that into chunks every few seconds, uploaded in order while the call
// runs, so a crash loses seconds at most. Someone who joins later and has not consented is left out
// of the mix (their tile says so) until they consent.

const CHUNK_MS = 3000;

export function setupRoom({ t, callId, me, guest, video, csrf, api, apiView, peers, localStream, localVideo }) {
  const roster = document.getElementById('roster');
  const consentBox = document.getElementById('consent');
  const badge = document.getElementById('rec-badge');
  const recordBtn = document.getElementById('record');
  let view = null;

  // --- Roster ---------------------------------------------------------------------------------
  const label = (prefix, value) => t[`${prefix}${value[0].toUpperCase()}${value.slice(1)}`] ?? value;
  function renderRoster(v) {
    roster.replaceChildren(...v.participants.map((p) => {
      const li = document.createElement('li');
      li.dataset.participant = p.id;
      li.dataset.state = p.state;
      const name = document.createElement('strong');
      name.textContent = p.id === me ? `${p.name} (${t.you})` : p.name;
      const what = document.createElement('span');
      what.textContent = ` · ${label('role', p.role)} · ${label('pstate', p.state)}`;
      li.append(name, what);
      if (v.recording_requested && p.state === 'joined') {
        const c = document.createElement('span');
        c.className = `consent-state ${p.consent ?? 'pending'}`;
        c.textContent = ` · ${label('consent', p.consent ?? 'pending')}`;
        li.append(c);
      }
      return li;
    }));
  }

  // --- Consent ----------------------------------------------------------------------------------
  const answer = async (allow) => {
    consentBox.hidden = true;
    try { await apiView('consent', { allow }); } catch (e) { console.warn('consent', e); }
  };
  document.getElementById('consent-yes').onclick = () => answer(true);
  document.getElementById('consent-no').onclick = () => answer(false);

  // --- Inviting (the consultation's doctor) -----------------------------------------------------
  const results = document.getElementById('invite-results');
  const q = document.getElementById('invite-q');
  const inviteError = document.getElementById('invite-error');
  const showError = (e) => {
    if (!inviteError) return;
    inviteError.textContent = e.message;
    inviteError.hidden = false;
  };
  let searchTimer = null;
  async function search() {
    const r = await fetch(`/api/v1/calls/${callId}/invitable?q=${encodeURIComponent(q.value)}`);
    const items = r.ok ? (await r.json()).items : [];
    results.replaceChildren(...items.map((d) => {
      const li = document.createElement('li');
      const text = document.createElement('span');
      text.textContent = `${d.name} · ${d.title} · ${d.department}`;
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = t.inviteButton;
      b.onclick = async () => {
        b.disabled = true;
        try {
          await apiView('invite', { user_id: d.id });
          li.remove();
        } catch (e) {
          showError(e);
          b.disabled = false;
        }
      };
      li.append(text, ' ', b);
      return li;
    }));
    if (!items.length) {
      const li = document.createElement('li');
      li.className = 'hint';
      li.textContent = t.inviteNone;
      results.append(li);
    }
  }
  if (q) {
    q.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 250); });
    document.getElementById('invite')?.addEventListener('toggle', (e) => { if (e.target.open) search(); });
    document.getElementById('invite-doctor').onsubmit = (e) => { e.preventDefault(); search(); };
  }
  const guestForm = document.getElementById('invite-guest');
  if (guestForm) {
    guestForm.onsubmit = async (e) => {
      e.preventDefault();
      inviteError.hidden = true;
      try {
        const link = await api('guests', {
          name: document.getElementById('guest-name').value,
          role: document.getElementById('guest-role').value,
        });
        document.getElementById('guest-url').value = `${location.origin}${link.path}`;
        const when = new Date(link.expires_at);
        const expiry = document.getElementById('guest-expiry');
        expiry.dateTime = link.expires_at;
        expiry.textContent = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        document.getElementById('guest-link').hidden = false;
        document.getElementById('guest-name').value = '';
      } catch (err) {
        showError(err);
      }
    };
    document.getElementById('copy-link').onclick = async (e) => {
      const url = document.getElementById('guest-url');
      url.select();
      try { await navigator.clipboard.writeText(url.value); } catch { document.execCommand?.('copy'); }
      e.target.textContent = t.copied;
    };
  }

  // --- Recording (the consultation's doctor) ----------------------------------------------------
  let wantRecording = false;
  let starting = false;
  let rec = null; // { id, recorder, seq, queue, audio, timer, sources }
  const consented = (id) => view?.participants.find((p) => p.id === id)?.consent === 'granted';

  function everyoneConsented(v) {
    return v.participants.filter((p) => p.state === 'joined').every((p) => p.consent === 'granted');
  }

  function pickType() {
    const types = video
      ? ['video/webm;codecs=vp8,opus', 'video/webm', 'video/mp4']
      : ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4', 'audio/ogg'];
    return types.find((ty) => MediaRecorder.isTypeSupported(ty)) ?? types[0];
  }

  // Audio of everyone who consented, mixed; re-wired whenever people or consents change.
  function wireAudio() {
    if (!rec) return;
    const wanted = new Map();
    const mine = localStream();
    if (mine?.getAudioTracks().length) wanted.set(me, mine);
    for (const [id, p] of peers()) if (consented(id) && p.stream?.getAudioTracks().length) wanted.set(id, p.stream);
    for (const [id, node] of rec.sources) {
      if (wanted.get(id) !== node.stream) { node.source.disconnect(); rec.sources.delete(id); }
    }
    for (const [id, s] of wanted) {
      if (rec.sources.has(id)) continue;
      const source = rec.audio.createMediaStreamSource(s);
      source.connect(rec.mix);
      rec.sources.set(id, { source, stream: s });
    }
  }

  // Pictures of everyone who consented, in a grid on one canvas (15 frames a second).
  function drawLoop(canvas) {
    const g = canvas.getContext('2d');
    return setInterval(() => {
      const tiles = [localVideo];
      for (const [id, p] of peers()) {
        if (consented(id)) tiles.push(p.tile.querySelector('video'));
      }
      const n = tiles.length;
      const cols = n <= 1 ? 1 : n <= 4 ? 2 : 3;
      const rows = Math.ceil(n / cols);
      const w = canvas.width / cols;
      const h = canvas.height / rows;
      g.fillStyle = '#111';
      g.fillRect(0, 0, canvas.width, canvas.height);
      tiles.forEach((el, i) => {
        if (el.readyState >= 2) g.drawImage(el, (i % cols) * w, Math.floor(i / cols) * h, w, h);
      });
    }, 66);
  }

  async function upload(id, seq, blob) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const r = await fetch(`/api/v1/recordings/${id}/chunks/${seq}`, {
          method: 'PUT',
          headers: { 'x-csrf-token': csrf, 'content-type': 'application/octet-stream' },
          body: blob,
        });
        if (r.ok) return;
        if (r.status < 500 && r.status !== 429) throw new Error(`chunk refused: ${r.status}`);
      } catch (e) {
        if (attempt >= 5 || String(e.message).startsWith('chunk refused')) throw e;
      }
      await new Promise((res) => { setTimeout(res, 500 * 2 ** attempt); });
    }
  }

  async function startRecorder() {
    const type = pickType();
    const r = await fetch(`/api/v1/calls/${callId}/recordings`, {
      method: 'POST',
      headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ content_type: type }),
    });
    if (!r.ok) return;
    const { id } = await r.json();
    const audio = new AudioContext();
    const mix = audio.createMediaStreamDestination();
    const tracks = [...mix.stream.getAudioTracks()];
    let canvas = null;
    if (video) {
      canvas = document.createElement('canvas');
      canvas.width = 960;
      canvas.height = 540;
      tracks.unshift(canvas.captureStream(15).getVideoTracks()[0]);
    }
    const recorder = new MediaRecorder(new MediaStream(tracks), { mimeType: type });
    rec = { id, recorder, seq: 0, queue: Promise.resolve(), audio, mix, sources: new Map(), timer: canvas ? drawLoop(canvas) : null };
    wireAudio();
    const mine = rec;
    recorder.ondataavailable = ({ data }) => {
      if (!data.size) return;
      const seq = mine.seq;
      mine.seq += 1;
      mine.queue = mine.queue.then(() => upload(id, seq, data)).catch((e) => console.warn('recording upload', e));
    };
    mine.stopped = new Promise((res) => { recorder.onstop = res; });
    recorder.start(CHUNK_MS);
    window.yiqiaoCall.recording = mine;
    renderRecordButton();
  }

  /** Stops the recorder, uploads what is left and files the recording. */
  async function stopRecorder() {
    const mine = rec;
    if (!mine) return;
    rec = null;
    wantRecording = false;
    if (mine.recorder.state !== 'inactive') mine.recorder.stop();
    await mine.stopped;
    clearInterval(mine.timer);
    await mine.queue;
    await mine.audio.close().catch(() => {});
    await fetch(`/api/v1/recordings/${mine.id}/finish`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
    renderRecordButton();
  }

  function renderRecordButton() {
    if (!recordBtn) return;
    const on = Boolean(rec);
    recordBtn.setAttribute('aria-pressed', String(on));
    recordBtn.textContent = on ? t.recordStop : wantRecording ? t.recordWaiting : t.record;
  }

  recordBtn?.addEventListener('click', async () => {
    if (rec) { await stopRecorder(); return; }
    if (wantRecording) return;
    wantRecording = true;
    renderRecordButton();
    try { await apiView('recording-request'); } catch (e) { console.warn(e); wantRecording = false; renderRecordButton(); }
  });

  return {
    render(v) {
      view = v;
      renderRoster(v);
      const mine = v.participants.find((p) => p.id === me);
      consentBox.hidden = !(v.recording_requested && mine?.state === 'joined' && !mine.consent && !['ended', 'declined', 'missed', 'cancelled'].includes(v.state));
      badge.hidden = !v.recording_id;
      // Tiles of people who did not consent while recording say so.
      for (const [id, p] of peers()) p.tile.classList.toggle('unrecorded', Boolean(v.recording_id) && !consented(id));
      if (!guest && wantRecording && !rec && !starting && v.recording_requested && everyoneConsented(v) && !v.recording_id) {
        starting = true;
        startRecorder().catch((e) => console.warn('recorder', e)).finally(() => { starting = false; });
      }
      wireAudio();
      renderRecordButton();
    },
    peersChanged() { wireAudio(); },
    stop: stopRecorder,
  };
}

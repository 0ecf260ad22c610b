// Pre-call check (F3): camera, microphone, the connection to Yiqiao and whether the TURN relay is
// reachable, each with plain-language advice when it fails. Nothing is sent anywhere but our server
// and the configured STUN/TURN servers.
const root = document.getElementById('check');
const t = document.getElementById('check-i18n').dataset;
const iceServers = JSON.parse(root.dataset.ice || '[]');
const summary = document.getElementById('check-summary');

const mark = (id, ok, text) => {
  const li = document.getElementById(id);
  li.dataset.state = ok ? 'ok' : 'bad';
  li.querySelector('.result').textContent = text ?? (ok ? t.ok : t.failed);
  li.querySelector('.advice').hidden = ok;
  return ok;
};

let stream = null;
async function media() {
  for (const tr of stream?.getTracks() ?? []) tr.stop();
  let camera = false;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    camera = true;
  } catch {
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch { stream = null; }
  }
  mark('check-camera', camera);
  if (camera) document.getElementById('preview').srcObject = stream;
  if (!stream?.getAudioTracks().length) return [camera, mark('check-mic', false)];
  // The microphone passes when it picks up sound within 8 seconds (ask the user to speak).
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const meter = document.getElementById('mic-level');
  const heard = await new Promise((resolve) => {
    const until = Date.now() + 8000;
    const tick = () => {
      analyser.getByteTimeDomainData(data);
      const level = Math.max(...data.map((v) => Math.abs(v - 128))) / 128;
      meter.value = level;
      if (level > 0.05) resolve(true);
      else if (Date.now() > until) resolve(false);
      else requestAnimationFrame(tick);
    };
    tick();
  });
  return [camera, mark('check-mic', heard, heard ? t.heard : t.notHeard)];
}

async function server() {
  const times = [];
  for (let i = 0; i < 5; i += 1) {
    const t0 = performance.now();
    try {
      const r = await fetch('/healthz', { cache: 'no-store' });
      if (!r.ok) return mark('check-server', false);
    } catch {
      return mark('check-server', false);
    }
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = Math.round(times[2]);
  return mark('check-server', median < 800, `${median} ms${median < 800 ? '' : ` — ${t.slow}`}`);
}

// TURN: gather candidates with relay only; a relay candidate means the relay answered our credential.
async function relay() {
  if (!iceServers.some((s) => s.username)) return mark('check-relay', true, t.noTurn);
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  pc.createDataChannel('check');
  const found = new Promise((resolve) => {
    pc.onicecandidate = (e) => { if (e.candidate?.type === 'relay' || / typ relay /.test(e.candidate?.candidate ?? '')) resolve(true); };
    setTimeout(() => resolve(false), 8000);
  });
  await pc.setLocalDescription(await pc.createOffer());
  const ok = await found;
  pc.close();
  return mark('check-relay', ok);
}

async function run() {
  summary.textContent = '';
  for (const li of document.querySelectorAll('.checks li')) li.dataset.state = 'pending';
  const [[camera, mic], net, turn] = await Promise.all([media(), server(), relay()]);
  const good = camera && mic && net && turn;
  summary.textContent = good ? t.allGood : t.someBad;
  root.dataset.done = good ? 'ok' : 'bad';
}

document.getElementById('check-again').onclick = run;
run();

// The call screen (A1, F3): WebRTC in the browser, signaling through our WebSocket.
// Negotiation follows the "perfect negotiation" pattern: the callee is polite (yields on an offer
// collision), the caller is not. The callee announces `ready` once its media is attached; the caller
// adds its tracks then, so no offer is sent before the other page listens. `window.yiqiaoCall.pc` is
// the RTCPeerConnection (the browser tests read its getStats()).
const root = document.getElementById('call');
const t = document.getElementById('call-i18n').dataset;
const callId = root.dataset.call;
const video = root.dataset.kind === 'video';
const polite = root.dataset.caller !== 'true';
const csrf = root.dataset.csrf;
const back = `/consultations/${root.dataset.consultation}`;
const params = new URLSearchParams(location.search);
const statusEl = document.getElementById('call-status');
const qualityEl = document.getElementById('call-quality');
const timerEl = document.getElementById('timer');
const remote = document.getElementById('remote');
const local = document.getElementById('local');
const FINAL = ['ended', 'declined', 'missed', 'cancelled'];

let state = root.dataset.state;
const say = (key) => { statusEl.textContent = t[key] ?? key; };

const pc = new RTCPeerConnection({
  iceServers: JSON.parse(root.dataset.ice || '[]'),
  // `?relay=1` (or localStorage `yiqiao.forceRelay` = 1) forces TURN: for diagnosing hospital
  // firewalls, and used by the TURN test.
  iceTransportPolicy: params.get('relay') === '1' || localStorage.getItem('yiqiao.forceRelay') === '1' ? 'relay' : 'all',
});
window.yiqiaoCall = { pc, callId };

let ws;
let wsDelay = 1000;
const outbox = [];
const send = (data) => {
  const frame = JSON.stringify({ type: 'signal', call_id: callId, data });
  if (ws?.readyState === WebSocket.OPEN) ws.send(frame); else outbox.push(frame);
};

let makingOffer = false;
let ignoreOffer = false;
pc.onnegotiationneeded = async () => {
  try {
    makingOffer = true;
    await pc.setLocalDescription();
    send({ description: pc.localDescription });
  } catch (e) {
    console.warn('negotiation failed', e);
  } finally {
    makingOffer = false;
  }
};
pc.onicecandidate = ({ candidate }) => { if (candidate) send({ candidate }); };
pc.ontrack = ({ track, streams }) => {
  remote.srcObject = streams[0] ?? new MediaStream([track]);
};

let started = null;
pc.onconnectionstatechange = () => {
  const s = pc.connectionState;
  if (s === 'connected') {
    say('active');
    started ??= Date.now();
  } else if (s === 'disconnected') {
    say('reconnecting');
  } else if (s === 'failed') {
    say('reconnecting');
    pc.restartIce();
  }
};
setInterval(() => {
  if (started && !FINAL.includes(state)) {
    const s = Math.floor((Date.now() - started) / 1000);
    timerEl.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }
}, 1000);

async function onSignal({ description, candidate, ready }) {
  if (ready && !polite) {
    await attachMedia();
    return;
  }
  if (description) {
    const collision = description.type === 'offer' && (makingOffer || pc.signalingState !== 'stable');
    ignoreOffer = !polite && collision;
    if (ignoreOffer) return;
    await pc.setRemoteDescription(description);
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      send({ description: pc.localDescription });
    }
  } else if (candidate) {
    try {
      await pc.addIceCandidate(candidate);
    } catch (e) {
      if (!ignoreOffer) console.warn('bad candidate', e);
    }
  }
}

// Media: microphone (and camera for video). Without them the call still receives.
let stream = null;
let attached = false;
async function attachMedia() {
  if (attached) return;
  attached = true;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? { facingMode: 'user' } : false });
    local.srcObject = stream;
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
  } catch (e) {
    console.warn('no media', e);
    statusEl.textContent = t.noMedia;
    // Receive anyway.
    pc.addTransceiver('audio', { direction: 'recvonly' });
    if (video) pc.addTransceiver('video', { direction: 'recvonly' });
  }
}

function finish(final) {
  state = final;
  say(final);
  qualityEl.hidden = true;
  for (const tr of stream?.getTracks() ?? []) tr.stop();
  pc.close();
  document.querySelector('.call-controls').hidden = true;
  setTimeout(() => { location.href = back; }, 2500);
}

function connect() {
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
  ws.onopen = async () => {
    wsDelay = 1000;
    while (outbox.length) ws.send(outbox.shift());
    if (state === 'active' && polite) {
      // The callee: media first, then tell the caller to start.
      await attachMedia();
      send({ ready: true });
    }
  };
  ws.onmessage = async (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    if (ev.type === 'signal' && ev.call_id === callId) {
      await onSignal(ev.data);
    } else if (ev.type === 'call' && ev.call.id === callId) {
      state = ev.call.state;
      if (FINAL.includes(state)) finish(state);
      else if (state === 'active') say('connecting');
    }
  };
  ws.onclose = () => {
    if (FINAL.includes(state)) return;
    setTimeout(connect, wsDelay);
    wsDelay = Math.min(wsDelay * 2, 10000);
  };
}

// "The other side's network is poor": packet loss or round-trip time from WebRTC stats.
let lastLost = 0;
let lastRecv = 0;
setInterval(async () => {
  if (pc.connectionState !== 'connected') return;
  let lost = 0;
  let recv = 0;
  let rtt = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp') { lost += r.packetsLost ?? 0; recv += r.packetsReceived ?? 0; }
    if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) rtt = r.currentRoundTripTime ?? 0;
  });
  const dLost = lost - lastLost;
  const dRecv = recv - lastRecv;
  lastLost = lost;
  lastRecv = recv;
  const lossy = dRecv + dLost > 0 && dLost / (dRecv + dLost) > 0.05;
  qualityEl.hidden = !(lossy || rtt > 0.4);
}, 2000);

// Controls.
const toggle = (id, on, offLabel, onLabel) => {
  const b = document.getElementById(id);
  b.setAttribute('aria-pressed', String(on));
  b.textContent = on ? onLabel : offLabel;
};
document.getElementById('mute').onclick = () => {
  const tracks = stream?.getAudioTracks() ?? [];
  const muted = tracks.some((tr) => tr.enabled);
  for (const tr of tracks) tr.enabled = !muted;
  toggle('mute', muted, t.mute, t.unmute);
};
const videoSender = () => pc.getSenders().find((s) => s.track?.kind === 'video');
document.getElementById('camera')?.addEventListener('click', () => {
  const tracks = stream?.getVideoTracks() ?? [];
  const off = tracks.some((tr) => tr.enabled);
  for (const tr of tracks) tr.enabled = !off;
  toggle('camera', off, t.cameraOff, t.cameraOn);
});
let cameraIndex = 0;
document.getElementById('switch')?.addEventListener('click', async () => {
  const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  if (cams.length < 2 || !stream) return;
  cameraIndex = (cameraIndex + 1) % cams.length;
  const next = await navigator.mediaDevices.getUserMedia({ video: { deviceId: { exact: cams[cameraIndex].deviceId } } });
  const track = next.getVideoTracks()[0];
  await videoSender()?.replaceTrack(track);
  for (const old of stream.getVideoTracks()) { stream.removeTrack(old); old.stop(); }
  stream.addTrack(track);
  local.srcObject = stream;
});
let sharing = null;
document.getElementById('share')?.addEventListener('click', async () => {
  const camera = stream?.getVideoTracks()[0];
  if (sharing) {
    sharing.stop();
    sharing = null;
    await videoSender()?.replaceTrack(camera ?? null);
    toggle('share', false, t.share, t.stopShare);
    return;
  }
  try {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
    sharing = screen.getVideoTracks()[0];
    await videoSender()?.replaceTrack(sharing);
    toggle('share', true, t.share, t.stopShare);
    sharing.onended = async () => {
      sharing = null;
      await videoSender()?.replaceTrack(camera ?? null);
      toggle('share', false, t.share, t.stopShare);
    };
  } catch (e) {
    console.warn('screen share refused', e);
  }
});
document.getElementById('hangup').onclick = async () => {
  await fetch(`/api/v1/calls/${callId}/hangup`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
  finish(state === 'ringing' ? 'cancelled' : 'ended');
};

if (FINAL.includes(state)) {
  finish(state);
} else {
  say(state === 'active' ? 'connecting' : 'ringing');
  connect();
}

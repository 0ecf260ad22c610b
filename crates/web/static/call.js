// The call screen (A1, F3): WebRTC in the browser, signaling through our WebSocket.
//
// A call is a room of up to six: every pair of browsers has its own RTCPeerConnection (a mesh).
// Each page load has a random `session`. When its media is ready, a page says `hello` to everyone
// joined. In each pair the participant with the smaller id starts the connection (creates it and
// offers); the other one answers a hello with its own hello addressed to that page. A page that
// reloads says hello with a new session, so the others drop the old connection and negotiate a new
// one. Negotiation per pair follows the "perfect negotiation" pattern (the larger id is polite) for
// later renegotiations (ICE restarts). `window.yiqiaoCall` exposes the peer connections (the browser tests
// read their getStats()).
import { setupRoom } from './call-room.js';

const root = document.getElementById('call');
const t = document.getElementById('call-i18n').dataset;
const callId = root.dataset.call;
const me = root.dataset.me;
const guest = root.dataset.guest === 'true';
const video = root.dataset.kind === 'video';
const csrf = root.dataset.csrf;
const back = guest ? null : `/consultations/${root.dataset.consultation}`;
const params = new URLSearchParams(location.search);
const statusEl = document.getElementById('call-status');
const qualityEl = document.getElementById('call-quality');
const timerEl = document.getElementById('timer');
const stage = document.getElementById('stage');
const local = document.getElementById('local');
const FINAL = ['ended', 'declined', 'missed', 'cancelled'];
const session = crypto.randomUUID();
const iceServers = JSON.parse(root.dataset.ice || '[]');
// `?relay=1` (or localStorage `yiqiao.forceRelay` = 1) forces TURN: for diagnosing hospital
// firewalls, and used by the TURN test.
const relayOnly = params.get('relay') === '1' || localStorage.getItem('yiqiao.forceRelay') === '1';

let state = root.dataset.state;
let view = null;
/** `call` events seen on the socket: an HTTP answer older than the latest event is not applied. */
let callEvents = 0;
const say = (key) => { statusEl.textContent = t[key] ?? key; };

/** Calls the API as this participant (a guest through its own routes). */
export async function api(action, body) {
  const url = guest ? `/api/v1/guest/call/${action}` : `/api/v1/calls/${callId}/${action}`;
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const v = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(v.error?.message ?? r.statusText), { code: v.error?.code });
  return v;
}

/**
 * Calls the API and shows the room it answers, unless a `call` event arrived meanwhile (that one is
 * newer: applying the answer would step back, e.g. hide a recording that just started).
 */
async function apiView(action, body) {
  const seen = callEvents;
  const v = await api(action, body);
  if (callEvents === seen) onView(v);
  return v;
}

// --- Signaling -------------------------------------------------------------------------------
let ws;
let wsDelay = 1000;
const outbox = [];
const send = (data, to) => {
  const frame = JSON.stringify({ type: 'signal', call_id: callId, to, data: { ...data, session } });
  if (ws?.readyState === WebSocket.OPEN) ws.send(frame); else outbox.push(frame);
};

// --- Peers -----------------------------------------------------------------------------------
/** id → { pc, session, polite, makingOffer, ignoreOffer, tile, media, stream } */
const peers = new Map();
let stream = null;
let mediaReady = null;

function nameOf(id) {
  return view?.participants.find((p) => p.id === id)?.name ?? '';
}

function tileFor(id) {
  let tile = stage.querySelector(`figure[data-peer="${CSS.escape(id)}"]`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.className = 'tile';
    tile.dataset.peer = id;
    const media = document.createElement('video');
    media.autoplay = true;
    media.playsInline = true;
    const cap = document.createElement('figcaption');
    tile.append(media, cap);
    stage.insertBefore(tile, stage.querySelector('figure.me'));
  }
  tile.querySelector('figcaption').textContent = nameOf(id);
  stage.dataset.count = String(stage.querySelectorAll('figure').length);
  return tile;
}

function dropPeer(id) {
  const p = peers.get(id);
  if (!p) return;
  clearInterval(p.watchdog);
  p.pc.close();
  peers.delete(id);
  stage.querySelector(`figure[data-peer="${CSS.escape(id)}"]`)?.remove();
  stage.dataset.count = String(stage.querySelectorAll('figure').length);
  room.peersChanged();
}

function newPeer(id, theirSession) {
  dropPeer(id);
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all' });
  const p = { pc, session: theirSession, polite: me > id, makingOffer: false, ignoreOffer: false, stream: null };
  p.tile = tileFor(id);
  peers.set(id, p);
  const to = (data) => send({ ...data, to_session: p.session }, id);
  pc.onnegotiationneeded = async () => {
    debug('negotiationneeded', id.slice(-6), pc.signalingState);
    try {
      p.makingOffer = true;
      await pc.setLocalDescription();
      to({ description: pc.localDescription });
    } catch (e) {
      console.warn('negotiation failed', e);
    } finally {
      p.makingOffer = false;
    }
  };
  pc.onicecandidate = ({ candidate }) => { if (candidate) to({ candidate }); };
  pc.ontrack = ({ track, streams }) => {
    p.stream = streams[0] ?? new MediaStream([track]);
    p.tile.querySelector('video').srcObject = p.stream;
    room.peersChanged();
  };
  pc.onconnectionstatechange = () => {
    const s = pc.connectionState;
    debug('state', id.slice(-6), s, pc.signalingState);
    if (s === 'failed' && !p.polite) pc.restartIce();
    updateStatus();
  };
  p.send = to;
  // Self-healing: a connection that is not up after 8 s is negotiated again with fresh ICE (a lost
  // offer, answer or candidate, or checks that timed out). The impolite side restarts; the polite
  // side asks it to.
  p.since = Date.now();
  p.watchdog = setInterval(async () => {
    if (['connected', 'closed'].includes(pc.connectionState) || Date.now() - p.since < 8000) return;
    p.since = Date.now();
    debug('watchdog', id.slice(-6), pc.connectionState, pc.signalingState);
    if (p.polite) {
      to({ restart: true });
      return;
    }
    try {
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      pc.restartIce();
    } catch (e) {
      console.warn('restart failed', e);
    }
  }, 2000);
  if (stream) {
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
  } else {
    // No camera or microphone: receive anyway.
    pc.addTransceiver('audio', { direction: 'recvonly' });
    if (video) pc.addTransceiver('video', { direction: 'recvonly' });
  }
  room.peersChanged();
  return p;
}

// `localStorage["yiqiao.callDebug"] = "1"` logs the negotiation to the console.
const debug = localStorage.getItem('yiqiao.callDebug') === '1' ? (...a) => console.log('[call]', ...a) : () => {};

async function onSignal(from, data) {
  debug('recv', from.slice(-6), Object.keys(data).join(','), data.description?.type ?? '', data.session?.slice(0, 6), data.to_session?.slice(0, 6));
  if (data.to_session && data.to_session !== session) return; // for this participant's previous page
  let p = peers.get(from);
  if (data.hello) {
    // A newcomer, or a participant who reloaded: a fresh connection to their new page. One side of
    // each pair starts it (the impolite one, the smaller id), so two offers never cross; the other
    // side answers the hello with its own, addressed to that page.
    if (p && p.session === data.session) return;
    if (me < from) newPeer(from, data.session);
    else {
      dropPeer(from);
      send({ hello: true, to_session: data.session }, from);
    }
    return;
  }
  if (data.restart) {
    if (p && p.session === data.session && !p.polite) p.pc.restartIce();
    return;
  }
  const { description, candidate } = data;
  if (description) {
    if (!p || p.session !== data.session) {
      if (description.type !== 'offer') return;
      p = newPeer(from, data.session);
    }
    const { pc } = p;
    const collision = description.type === 'offer' && (p.makingOffer || pc.signalingState !== 'stable');
    p.ignoreOffer = !p.polite && collision;
    if (p.ignoreOffer) return;
    await pc.setRemoteDescription(description);
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      p.send({ description: pc.localDescription });
    }
  } else if (candidate && p && p.session === data.session) {
    try {
      await p.pc.addIceCandidate(candidate);
    } catch (e) {
      if (!p.ignoreOffer) console.warn('bad candidate', e);
    }
  }
}

// Media: microphone (and camera for video), once per page. Without them the call still receives.
function attachMedia() {
  mediaReady ??= (async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? { facingMode: 'user' } : false });
      local.srcObject = stream;
    } catch (e) {
      console.warn('no media', e);
      statusEl.textContent = t.noMedia;
    }
  })();
  return mediaReady;
}

// --- State -----------------------------------------------------------------------------------
let started = null;
function updateStatus() {
  if (FINAL.includes(state)) return;
  const states = [...peers.values()].map((p) => p.pc.connectionState);
  if (states.includes('connected')) {
    say('active');
    started ??= Date.now();
  } else if (states.some((s) => s === 'disconnected' || s === 'failed')) {
    say('reconnecting');
  } else {
    say(state === 'ringing' ? 'ringing' : 'connecting');
  }
}
setInterval(() => {
  if (started && !FINAL.includes(state)) {
    const s = Math.floor((Date.now() - started) / 1000);
    timerEl.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }
}, 1000);

function onView(v) {
  view = v;
  state = v.state;
  // Whoever is no longer in the call: close their connection.
  for (const id of [...peers.keys()]) {
    if (v.participants.find((p) => p.id === id)?.state !== 'joined') dropPeer(id);
  }
  for (const [id, p] of peers) p.tile.querySelector('figcaption').textContent = nameOf(id);
  const others = v.participants.filter((p) => p.id !== me && ['joined', 'invited'].includes(p.state)).map((p) => p.name);
  if (others.length) document.getElementById('call-title').textContent = others.join('、');
  room.render(v);
  if (FINAL.includes(state)) finish(state);
  else updateStatus();
}

let finished = false;
async function finish(final) {
  if (finished) return;
  finished = true;
  state = final;
  say(final);
  qualityEl.hidden = true;
  await room.stop();
  for (const tr of stream?.getTracks() ?? []) tr.stop();
  for (const id of [...peers.keys()]) dropPeer(id);
  document.querySelector('.call-controls').hidden = true;
  if (back) setTimeout(() => { location.href = back; }, 2500);
  else document.getElementById('guest-thanks').hidden = false;
}

// The room as the server has it now: on (re)connecting and after a `resync`, events may have been
// missed. A `call` event that arrives while the fetch runs is newer, and wins.
function refreshView() {
  const seen = callEvents;
  fetch(guest ? '/api/v1/guest/call' : `/api/v1/calls/${callId}`)
    .then((r) => (r.ok ? r.json() : null))
    .then((v) => { if (v && callEvents === seen) onView(v); })
    .catch(() => {});
}

function connect() {
  const path = guest ? '/api/v1/guest/ws' : '/api/v1/ws';
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`);
  ws.onopen = async () => {
    wsDelay = 1000;
    while (outbox.length) ws.send(outbox.shift());
    refreshView();
    await attachMedia();
    send({ hello: true });
  };
  ws.onmessage = async (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    if (ev.type === 'signal' && ev.call_id === callId) {
      await attachMedia();
      await onSignal(ev.from, ev.data);
    } else if (ev.type === 'call' && ev.call.id === callId) {
      callEvents += 1;
      onView(ev.call);
    } else if (ev.type === 'resync') {
      refreshView();
    }
  };
  ws.onclose = () => {
    if (FINAL.includes(state)) return;
    setTimeout(connect, wsDelay);
    wsDelay = Math.min(wsDelay * 2, 10000);
  };
}

// Someone in the room we have no connection with (our hello, or their offer, was lost): say hello
// again. Pages that already know this session ignore it.
setInterval(() => {
  if (!view || FINAL.includes(state) || ws?.readyState !== WebSocket.OPEN) return;
  const missing = view.participants.some((p) => p.id !== me && p.state === 'joined' && !peers.has(p.id));
  if (missing && mediaReady) send({ hello: true });
}, 5000);

// "The other side's network is poor": packet loss or round-trip time from WebRTC stats.
const lastCounts = new Map();
setInterval(async () => {
  let poor = false;
  for (const [id, p] of peers) {
    if (p.pc.connectionState !== 'connected') continue;
    let lost = 0;
    let recv = 0;
    let rtt = 0;
    (await p.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp') { lost += r.packetsLost ?? 0; recv += r.packetsReceived ?? 0; }
      if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) rtt = r.currentRoundTripTime ?? 0;
    });
    const [lastLost, lastRecv] = lastCounts.get(id) ?? [0, 0];
    lastCounts.set(id, [lost, recv]);
    const dLost = lost - lastLost;
    const dRecv = recv - lastRecv;
    const lossy = dRecv + dLost > 0 && dLost / (dRecv + dLost) > 0.05;
    poor ||= lossy || rtt > 0.4;
  }
  qualityEl.hidden = !poor;
}, 2000);

// --- Controls --------------------------------------------------------------------------------
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
const videoSenders = () => [...peers.values()]
  .map((p) => p.pc.getTransceivers().find((tr) => tr.receiver.track.kind === 'video')?.sender)
  .filter(Boolean);
const replaceVideo = (track) => Promise.all(videoSenders().map((s) => s.replaceTrack(track)));
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
  await replaceVideo(track);
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
    await replaceVideo(camera ?? null);
    toggle('share', false, t.share, t.stopShare);
    return;
  }
  try {
    const screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
    sharing = screen.getVideoTracks()[0];
    await replaceVideo(sharing);
    toggle('share', true, t.share, t.stopShare);
    sharing.onended = async () => {
      sharing = null;
      await replaceVideo(camera ?? null);
      toggle('share', false, t.share, t.stopShare);
    };
  } catch (e) {
    console.warn('screen share refused', e);
  }
});
const leave = async (action) => {
  await room.stop();
  try {
    onView(await api(action));
  } catch {
    finish(state === 'ringing' ? 'cancelled' : 'ended');
  }
  if (!FINAL.includes(state)) finish('ended');
};
document.getElementById('hangup').onclick = () => leave('hangup');
document.getElementById('end-all')?.addEventListener('click', () => leave('end'));

const room = setupRoom({
  t, callId, me, guest, video, csrf, api, apiView,
  peers: () => peers,
  localStream: () => stream,
  localVideo: local,
});

window.yiqiaoCall = {
  callId,
  session,
  /** Peer connections by participant id. */
  peers,
  /** The room as this page last saw it (diagnostics). */
  view: () => view,
  /** The first peer connection (two-person calls). */
  get pc() { return peers.values().next().value?.pc ?? null; },
};

if (FINAL.includes(state)) {
  finish(state);
} else {
  say(state === 'active' ? 'connecting' : 'ringing');
  // Signaling (it sets up the media); the room's roster comes with the socket.
  connect();
}

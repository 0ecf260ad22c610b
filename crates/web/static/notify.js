// New-message notices on every page (A1): a small toast and a count on the Consultations link.
// Pages with their own live view (the conversation, the queue) show messages themselves, but an
// incoming call rings on every page (F3).
const livePage = Boolean(document.getElementById('chat') || document.getElementById('queue'));
{
  const label = document.body.dataset.newMessage || 'New message';
  const link = document.querySelector('nav a[href="/consultations"]');
  let count = 0;
  let delay = 1000;
  const box = document.createElement('div');
  box.className = 'toasts';
  box.setAttribute('role', 'status');
  box.setAttribute('aria-live', 'polite');
  document.body.append(box);
  const toast = (text, href) => {
    const a = document.createElement('a');
    a.className = 'toast';
    a.href = href;
    a.textContent = text;
    box.append(a);
    setTimeout(() => a.remove(), 8000);
  };
  // An incoming call: a banner with Accept / Decline that stays until answered or the call ends.
  const rings = new Map();
  const ring = (call) => {
    const shown = rings.get(call.id);
    // Ring while my invitation is open (the first ring, or a doctor invited into a running call).
    if (call.my_state !== 'invited' || !['ringing', 'active'].includes(call.state)) {
      shown?.remove();
      rings.delete(call.id);
      return;
    }
    if (shown) return;
    const d = document.body.dataset;
    const bar = document.createElement('div');
    bar.className = 'ringing';
    bar.setAttribute('role', 'alertdialog');
    bar.id = `ring-${call.id}`;
    const text = document.createElement('strong');
    text.textContent = `${call.invited_by_name || call.caller_name} ${call.kind === 'video' ? d.ringingVideo : d.ringingVoice}`;
    const act = async (action) => {
      const r = await fetch(`/api/v1/calls/${call.id}/${action}`, { method: 'POST', headers: { 'x-csrf-token': d.csrf } });
      bar.remove();
      rings.delete(call.id);
      if (r.ok && action === 'accept') location.href = `/calls/${call.id}`;
    };
    const accept = document.createElement('button');
    accept.className = 'primary accept';
    accept.textContent = d.accept;
    accept.onclick = () => act('accept');
    const decline = document.createElement('button');
    decline.className = 'danger decline';
    decline.textContent = d.decline;
    decline.onclick = () => act('decline');
    bar.append(text, accept, decline);
    document.body.append(bar);
    rings.set(call.id, bar);
  };
  // Monitoring alerts (D4): an abnormal reading of a patient on my follow-up plan, shown on every page
  // until acknowledged; urgent ones stand out.
  const alerts = new Map();
  // A repeat of the same rule (issue 11 item 16) updates the alert's banner: latest value and count.
  const alertText = (a) => {
    const d = document.body.dataset;
    const label = a.severity === 'urgent' ? d.alertUrgent : d.alertWarning;
    const repeats = a.count > 1 ? ` · ${a.count} ${d.alertRepeats ?? ''}` : '';
    return `${label} · ${a.patient_name} · ${a.reading?.summary ?? ''}${repeats}`;
  };
  const showAlert = (a) => {
    const shown = alerts.get(a.id);
    if (shown) {
      shown.querySelector('strong').textContent = alertText(a);
      shown.dataset.count = String(a.count ?? 1);
      return;
    }
    if (!['open', 'escalated'].includes(a.state)) return;
    const d = document.body.dataset;
    const bar = document.createElement('div');
    bar.className = `monitor-alert ${a.severity}`;
    bar.setAttribute('role', a.severity === 'urgent' ? 'alertdialog' : 'status');
    bar.dataset.alert = a.id;
    bar.dataset.count = String(a.count ?? 1);
    const text = document.createElement('strong');
    text.textContent = alertText(a);
    const ack = document.createElement('button');
    ack.className = 'primary';
    ack.textContent = d.alertAck;
    ack.onclick = async () => {
      const r = await fetch(`/api/v1/alerts/${a.id}/ack`, { method: 'POST', headers: { 'x-csrf-token': d.csrf } });
      if (r.ok) { bar.remove(); alerts.delete(a.id); }
    };
    bar.append(text, ack);
    document.body.append(bar);
    alerts.set(a.id, bar);
  };
  fetch('/api/v1/alerts').then((r) => (r.ok ? r.json() : { items: [] })).then((v) => v.items.forEach(showAlert)).catch(() => {});
  // Notifications (E3): the unread count on the Inbox link; a new one shows as a toast (alerts have
  // their banner) and is confirmed as delivered to this page.
  const inboxLink = document.querySelector('nav a[href="/inbox"]');
  let unread = 0;
  const setUnread = (n) => { unread = n; if (inboxLink) { if (n > 0) inboxLink.dataset.count = String(n); else delete inboxLink.dataset.count; } };
  fetch('/api/v1/notifications?count_only=true').then((r) => (r.ok ? r.json() : { unread: 0 })).then((v) => setUnread(v.unread)).catch(() => {});
  const notified = (n, quiet) => {
    setUnread(unread + 1);
    fetch('/api/v1/notifications/delivered', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': document.body.dataset.csrf },
      body: JSON.stringify({ ids: [n.id] }),
    }).catch(() => {});
    if (!quiet && !n.kind.startsWith('alert')) toast(`${n.title} — ${n.body.slice(0, 60)}`, `/inbox/${n.id}`);
  };
  // An urgent reading of my own: what to do now (call 120), on whatever page I am.
  const urgentNotice = (o) => {
    if (o.patient_id !== document.body.dataset.me || o.alert?.severity !== 'urgent' || document.getElementById('urgent-120')) return;
    const d = document.body.dataset;
    const bar = document.createElement('div');
    bar.className = 'alert urgent-120 floating';
    bar.id = 'urgent-120';
    bar.setAttribute('role', 'alert');
    const text = document.createElement('strong');
    text.textContent = `${d.urgentTitle || ''} ${o.summary}`;
    const advice = document.createElement('p');
    advice.textContent = d.urgentAdvice || '';
    const call = document.createElement('a');
    call.className = 'button danger big-call';
    call.href = 'tel:120';
    call.textContent = d.call120 || '120';
    bar.append(text, advice, call);
    document.querySelector('main')?.prepend(bar);
  };
  // A call that started ringing before this page opened.
  fetch('/api/v1/calls').then((r) => (r.ok ? r.json() : { items: [] })).then((v) => v.items.forEach(ring)).catch(() => {});
  // This tab signing out itself goes where the sign-out form leads, not to the sign-in page.
  let signingOut = false;
  document.querySelectorAll('form[action="/logout"]').forEach((f) => f.addEventListener('submit', () => { signingOut = true; }));
  const open = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    ws.onopen = () => { delay = 1000; };
    ws.onmessage = (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      // The session ended elsewhere (sign-out, expiry) or its roles changed (issue 11 item 5): the
      // page must not go on showing what the old session could see.
      if (ev.type === 'session_end') {
        if (signingOut) return;
        if (ev.reason === 'roles_changed') location.reload();
        else location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
        return;
      }
      if (ev.type === 'call') ring(ev.call);
      if (ev.type === 'alert') showAlert(ev.alert);
      if (ev.type === 'notification') notified(ev.notification, ev.quiet);
      if (ev.type === 'observation') urgentNotice(ev.observation);
      if (livePage) return;
      if (ev.type === 'message' && ev.message.sender !== document.body.dataset.me) {
        count += 1;
        if (link) link.dataset.count = String(count);
        toast(`${label}: ${ev.message.sender_name} — ${ev.message.text.slice(0, 40)}`, `/consultations/${ev.message.consultation_id}`);
      }
      if (ev.type === 'consultation' || ev.type === 'escalated') {
        toast(document.body.dataset.newConsultation || 'Consultation update', `/consultations/${ev.consultation?.id ?? ev.consultation_id}`);
      }
    };
    ws.onclose = () => { setTimeout(open, delay); delay = Math.min(delay * 2, 30000); };
  };
  open();
}

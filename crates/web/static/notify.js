// New-message notices on every page (A1): a small toast and a count on the Consultations link.
// Pages with their own live view (the conversation, the queue) handle events themselves.
if (!document.getElementById('chat') && !document.getElementById('queue')) {
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
  const open = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    ws.onopen = () => { delay = 1000; };
    ws.onmessage = (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
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

// Chronic-care pages (D1–D5): the reading form shows only the fields of what is measured; alerts
// on a patient's care panel are acknowledged in place; a new reading, task or alert for this
// patient refreshes the page so the trend chart and task list stay current.
const form = document.getElementById('reading-form');
if (form) {
  const type = document.getElementById('reading-type');
  const show = () => {
    for (const box of form.querySelectorAll('.fields')) {
      const on = box.dataset.for === type.value;
      box.hidden = !on;
      for (const input of box.querySelectorAll('input, select')) input.disabled = !on;
    }
  };
  type.addEventListener('change', show);
  show();
}

const csrf = document.body.dataset.csrf;
for (const b of document.querySelectorAll('button.ack-alert')) {
  b.addEventListener('click', async () => {
    const r = await fetch(`/api/v1/alerts/${b.dataset.alert}/ack`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
    if (r.ok) b.closest('[data-alert]')?.remove();
  });
}

// Live refresh: the page is server-rendered (charts are SVG from the server), so a change reloads it,
// unless the person is typing into a form.
const panel = document.getElementById('patient-care');
const patient = panel?.dataset.patient ?? document.getElementById('due')?.dataset.patient;
if (patient) {
  let timer = null;
  const refresh = () => {
    const typing = document.activeElement && ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName);
    if (typing) return;
    clearTimeout(timer);
    timer = setTimeout(() => location.reload(), 600);
  };
  const open = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    ws.onmessage = (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      const about = ev.observation?.patient_id ?? ev.task?.patient_id ?? ev.alert?.patient;
      if (['observation', 'task', 'alert'].includes(ev.type) && about === patient) refresh();
    };
    ws.onclose = () => setTimeout(open, 3000);
  };
  open();
}

// Image annotation (A4): draws the doctor's shapes over the untouched image in normalised
// coordinates (an SVG with a 0–1000 viewBox stretched over the picture); the consultation's doctor
// adds circles, arrows, free lines and text labels and saves them; everyone can hide the overlay.
const root = document.getElementById('annot');
if (root) {
  const svg = document.getElementById('overlay');
  const NS = 'http://www.w3.org/2000/svg';
  const editable = root.dataset.editable === 'true';
  const labelPrompt = document.getElementById('anno-i18n')?.dataset.label ?? 'Label';
  let shapes = JSON.parse(root.dataset.shapes || '[]');
  let tool = 'circle';
  let draft = null;
  const S = 1000;

  const el = (name, attrs) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  const style = { stroke: '#e0241b', 'stroke-width': 6, fill: 'none', 'vector-effect': 'non-scaling-stroke', 'stroke-linecap': 'round' };
  function draw(s) {
    if (s.type === 'circle') return el('ellipse', { cx: s.x * S, cy: s.y * S, rx: s.r * S, ry: s.r * S * (svg.clientWidth / Math.max(1, svg.clientHeight)), ...style });
    if (s.type === 'arrow') {
      const g = el('g', {});
      g.append(el('line', { x1: s.x1 * S, y1: s.y1 * S, x2: s.x2 * S, y2: s.y2 * S, ...style }));
      const a = Math.atan2((s.y2 - s.y1) * svg.clientHeight, (s.x2 - s.x1) * svg.clientWidth);
      const len = 40;
      for (const d of [0.5, -0.5]) {
        const hx = s.x2 * S - (len * Math.cos(a + d) * S) / svg.clientWidth;
        const hy = s.y2 * S - (len * Math.sin(a + d) * S) / svg.clientHeight;
        g.append(el('line', { x1: s.x2 * S, y1: s.y2 * S, x2: hx, y2: hy, ...style }));
      }
      return g;
    }
    if (s.type === 'line') return el('polyline', { points: s.points.map(([x, y]) => `${x * S},${y * S}`).join(' '), ...style });
    if (s.type === 'text') {
      const t = el('text', { x: s.x * S, y: s.y * S, fill: '#e0241b', 'font-size': 48, 'font-weight': 700, stroke: '#fff', 'stroke-width': 2, 'paint-order': 'stroke' });
      t.textContent = s.text;
      return t;
    }
    return el('g', {});
  }
  function render() {
    svg.replaceChildren(...shapes.map(draw), ...(draft ? [draw(draft)] : []));
  }
  const img = document.getElementById('photo');
  if (img.complete) render(); else img.addEventListener('load', render);
  window.addEventListener('resize', render);
  document.getElementById('show-overlay').addEventListener('change', (e) => { svg.style.display = e.target.checked ? '' : 'none'; });

  if (editable) {
    const clamp = (v) => Math.min(1, Math.max(0, v));
    const at = (e) => {
      const r = svg.getBoundingClientRect();
      return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
    };
    for (const b of root.querySelectorAll('[data-tool]')) {
      b.addEventListener('click', () => {
        tool = b.dataset.tool;
        for (const o of root.querySelectorAll('[data-tool]')) o.setAttribute('aria-pressed', String(o === b));
      });
    }
    svg.style.pointerEvents = 'auto';
    svg.addEventListener('pointerdown', (e) => {
      const [x, y] = at(e);
      if (tool === 'text') {
        const text = (prompt(labelPrompt) || '').trim();
        if (text) { shapes.push({ type: 'text', x, y, text: text.slice(0, 100) }); render(); }
        return;
      }
      svg.setPointerCapture(e.pointerId);
      draft = tool === 'circle' ? { type: 'circle', x, y, r: 0.001 }
        : tool === 'arrow' ? { type: 'arrow', x1: x, y1: y, x2: x, y2: y }
          : { type: 'line', points: [[x, y]] };
    });
    svg.addEventListener('pointermove', (e) => {
      if (!draft) return;
      const [x, y] = at(e);
      if (draft.type === 'circle') draft.r = Math.min(1, Math.max(0.005, Math.hypot(x - draft.x, y - draft.y)));
      if (draft.type === 'arrow') { draft.x2 = x; draft.y2 = y; }
      if (draft.type === 'line' && draft.points.length < 500) draft.points.push([x, y]);
      render();
    });
    svg.addEventListener('pointerup', () => {
      if (draft && !(draft.type === 'line' && draft.points.length < 2)) shapes.push(draft);
      draft = null;
      render();
    });
    document.getElementById('undo').addEventListener('click', () => { shapes.pop(); render(); });
    document.getElementById('save').addEventListener('click', async () => {
      const r = await fetch(`/api/v1/attachments/${root.dataset.id}/annotations`, {
        method: 'PUT', credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': root.dataset.csrf },
        body: JSON.stringify({ shapes }),
      });
      if (r.ok) {
        const saved = document.getElementById('saved');
        saved.hidden = false;
        setTimeout(() => { saved.hidden = true; }, 3000);
      } else {
        const err = await r.json().catch(() => null);
        alert(err?.error?.message ?? r.statusText);
      }
    });
  } else {
    svg.style.pointerEvents = 'none';
    // The patient's view follows the doctor's edits live.
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    ws.onmessage = async (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (ev.type === 'annotation' && ev.attachment_id === root.dataset.id) {
        const r = await fetch(`/api/v1/attachments/${root.dataset.id}/annotations`, { credentials: 'same-origin' });
        if (r.ok) { shapes = (await r.json()).shapes; render(); }
      }
    };
  }
}

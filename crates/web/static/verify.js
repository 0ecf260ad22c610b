// Keeps the hidden institution_id in step with the chosen department (B1 verification form), and
// sends the form with its CSRF token in the X-CSRF-Token header: a multipart body is not searched
// for it and the token never goes in the URL (issue 11 item 18).
const form = document.getElementById('verify-form');
if (form) {
  const dept = form.querySelector('select[name=department_id]');
  const inst = form.querySelector('#institution_id');
  const sync = () => { const o = dept.selectedOptions[0]; if (o) inst.value = o.dataset.institution; };
  dept.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = form.querySelector('button.primary');
    button.disabled = true;
    try {
      const r = await fetch(form.action, {
        method: 'POST',
        body: new FormData(form),
        headers: { 'x-csrf-token': document.body.dataset.csrf },
        credentials: 'same-origin',
      });
      if (r.redirected) { location.assign(r.url); return; }
      // The form again with the error message: show the page the server answered.
      const html = await r.text();
      document.open();
      document.write(html);
      document.close();
    } catch {
      button.disabled = false;
    }
  });
}

// Keeps the hidden institution_id in step with the chosen department (B1 verification form).
const form = document.getElementById('verify-form');
if (form) {
  const dept = form.querySelector('select[name=department_id]');
  const inst = form.querySelector('#institution_id');
  const sync = () => { const o = dept.selectedOptions[0]; if (o) inst.value = o.dataset.institution; };
  dept.addEventListener('change', sync);
  sync();
}

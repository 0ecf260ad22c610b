// Submits a form as soon as one of its `select[data-autosubmit]` changes. Kept out of the page:
// the Content-Security-Policy allows no inline event handlers (issue 11 item 6).
for (const select of document.querySelectorAll('select[data-autosubmit]')) {
  select.addEventListener('change', () => select.form?.submit());
}

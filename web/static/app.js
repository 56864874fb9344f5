// Starts the NHS.UK frontend's components (error summary focus, header
// menu…), and reveals follow-up questions. The pages work without it; this
// only enhances them. Loaded as a module, so it runs after the page has
// been parsed, and only in browsers the frontend supports.
import { initAll } from './nhsuk-frontend.min.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()

// Follow-up questions: a radio with data-reveals="ID" shows that element
// while it is checked. The frontend's own reveal sets aria-expanded on the
// radios, which ARIA does not allow on a radio (axe reports it as a
// critical violation), so these radios are left out of it.
const hidden = 'nhsuk-radios__conditional--hidden'
function sync (name) {
  for (const radio of document.querySelectorAll('input[type="radio"][data-reveals]')) {
    if (radio.name !== name) continue
    const target = document.getElementById(radio.dataset.reveals)
    if (target) target.classList.toggle(hidden, !radio.checked)
  }
}
const names = new Set()
for (const radio of document.querySelectorAll('input[type="radio"][data-reveals]')) names.add(radio.name)
for (const name of names) sync(name)
document.addEventListener('change', (e) => {
  if (e.target instanceof HTMLInputElement && e.target.type === 'radio' && names.has(e.target.name)) sync(e.target.name)
})

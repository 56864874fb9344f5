// Starts the NHS.UK frontend's components (error summary focus, radios'
// conditional questions, header menu…). The pages work without it; this
// only enhances them. Loaded as a module, so it runs after the page has
// been parsed, and only in browsers the frontend supports.
import { initAll } from './nhsuk-frontend.min.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()

// Copies the NHS.UK frontend's compiled CSS, JS and images, and our own
// web/src/ files, into web/static/, which the dsr binary embeds. Called by
// build-assets.sh after `npm ci`.
//
// The compiled CSS is changed in two ways:
//  - its @font-face rules load Frutiger from assets.nhs.uk; the register
//    runs offline and under a CSP that allows no other origin, so they are
//    dropped and text falls back to Arial, as the NHS font stack intends;
//  - images are referred to as /assets/images/…; they are made relative, so
//    they resolve next to the stylesheet wherever /static/ is mounted.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const pkg = join(here, 'node_modules', 'nhsuk-frontend')
const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'))
const dist = join(pkg, 'dist', 'nhsuk')
const out = join(here, 'static')

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

let css = readFileSync(join(dist, `nhsuk-frontend-${version}.min.css`), 'utf8')
const fonts = css.match(/@font-face\{[^}]*\}/g) || []
if (fonts.length === 0 || !fonts.every((f) => f.includes('assets.nhs.uk'))) {
  throw new Error('unexpected @font-face rules in nhsuk-frontend: check the build')
}
css = css.replace(/@font-face\{[^}]*\}/g, '')
css = css.replace(/\/\*# sourceMappingURL=[^*]*\*\//g, '')
css = css.replaceAll('url(/assets/', 'url(assets/')
if (/url\((?!assets\/|data:|"data:|'data:)/.test(css)) {
  throw new Error('nhsuk-frontend CSS refers to a URL outside its assets: check the build')
}
writeFileSync(join(out, 'nhsuk-frontend.min.css'), css)

let js = readFileSync(join(dist, `nhsuk-frontend-${version}.min.js`), 'utf8')
js = js.replace(/\/\/# sourceMappingURL=\S*\s*$/, '')
writeFileSync(join(out, 'nhsuk-frontend.min.js'), js)

cpSync(join(dist, 'assets', 'images'), join(out, 'assets', 'images'), { recursive: true })
for (const f of readdirSync(join(here, 'src'))) {
  cpSync(join(here, 'src', f), join(out, f))
}
writeFileSync(join(out, 'VERSION'), `nhsuk-frontend ${version}\n`)

// The browser tests inject axe-core into each page; keep a copy beside them
// so they need no node_modules.
const axe = join(here, 'node_modules', 'axe-core')
const axeVersion = JSON.parse(readFileSync(join(axe, 'package.json'), 'utf8')).version
mkdirSync(join(here, 'testdata'), { recursive: true })
cpSync(join(axe, 'axe.min.js'), join(here, 'testdata', 'axe.min.js'))
writeFileSync(join(here, 'testdata', 'AXE_VERSION'), `axe-core ${axeVersion}\n`)
console.log(`web/static: nhsuk-frontend ${version}; web/testdata: axe-core ${axeVersion}`)

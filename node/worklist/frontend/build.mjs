// Vendors NiiVue's prebuilt UMD bundle (global `niivue`) into ../static/vendor/niivue.js so the
// worklist serves the viewer itself: no CDN at run time (issue #9). No bundler needed: the
// package ships a self-contained UMD build.
import { copyFileSync, mkdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const pkgDir = join(here, 'node_modules', '@niivue', 'niivue')
const src = join(pkgDir, 'dist', 'niivue.umd.js')
const outDir = join(here, '..', 'static', 'vendor')
mkdirSync(outDir, { recursive: true })
copyFileSync(src, join(outDir, 'niivue.js'))
console.log(`vendored ${src} -> ${join(outDir, 'niivue.js')} (${statSync(src).size} bytes)`)

// Review page: NiiVue viewer (vendored, global `niivue`), six extreme points, brush/eraser, accept.
// The mask is NiiVue's drawing layer, so the interactive result, the brush and the eraser all
// edit one bitmap with one undo history; "accept" uploads it as NIfTI (NiiVue writes it back in
// the image's native voxel order).
'use strict'

const root = document.getElementById('review')
const jobId = root.dataset.job
const csrf = document.querySelector('meta[name="csrf-token"]').content
const api = `/api/review/${jobId}`
const $ = (id) => document.getElementById(id)

const state = { mode: 'navigate', points: [], method: 'automatic', busy: false }
const nv = new niivue.Niivue({
  backColor: [0, 0, 0, 1], show3Dcrosshair: true, isColorbar: false, penSize: 2,
  dragMode: niivue.DRAG_MODE.contrast, multiplanarForceRender: true,
})

// NiiVue keeps volumes in RAS voxel order; permRAS[a] = ±(native axis + 1), negative = flipped.
function rasToNative(v) {
  const img = nv.volumes[0]
  const out = [0, 0, 0]
  for (let a = 0; a < 3; a++) {
    const n = Math.abs(img.permRAS[a]) - 1
    out[n] = img.permRAS[a] > 0 ? v[a] : img.hdr.dims[n + 1] - 1 - v[a]
  }
  return out
}

function nativeToRas(v) {
  const img = nv.volumes[0]
  const out = [0, 0, 0]
  for (let a = 0; a < 3; a++) {
    const n = Math.abs(img.permRAS[a]) - 1
    out[a] = img.permRAS[a] > 0 ? v[n] : img.hdr.dims[n + 1] - 1 - v[n]
  }
  return out
}

function crosshairNative() {
  const mm = nv.frac2mm(nv.scene.crosshairPos)
  const ras = nv.volumes[0].mm2vox([mm[0], mm[1], mm[2]])
  return rasToNative([0, 1, 2].map((i) => Math.round(ras[i])))
}

function gotoVoxel(i, j, k) {
  const ras = nativeToRas([i, j, k])
  nv.scene.crosshairPos = nv.vox2frac(ras)
  nv.drawScene()
  nv.createOnLocationChange()
}

function setMode(mode) {
  state.mode = mode
  const drawing = mode === 'brush' || mode === 'erase'
  nv.setDrawingEnabled(drawing)
  if (drawing) nv.setPenValue(mode === 'brush' ? 1 : 0, false)
  for (const m of ['points', 'brush', 'erase', 'navigate']) $(`mode-${m}`).classList.toggle('active', m === mode)
  $('mode-label').textContent = `Mode: ${mode}`
}

function renderPoints() {
  $('points').innerHTML = state.points.map((p) => `<li>${p.join(', ')}</li>`).join('')
  $('run-interactive').disabled = state.points.length !== 6 || state.busy
}

function addPoint(p) {
  if (state.points.length >= 6) state.points.shift()
  state.points.push(p)
  renderPoints()
}

function setMethod(m) {
  state.method = m
  $('method').textContent = m
}

async function runInteractive() {
  state.busy = true
  renderPoints()
  $('interactive-status').textContent = 'Segmenting…'
  const t0 = performance.now()
  const r = await fetch(`${api}/points`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ points: state.points }),
  })
  state.busy = false
  renderPoints()
  if (!r.ok) {
    $('interactive-status').textContent = `Failed: ${(await r.json()).detail}`
    return
  }
  const out = await r.json()
  await nv.loadDrawingFromUrl(`${out.url}?t=${Date.now()}`)
  nv.setDrawOpacity(parseFloat($('opacity').value))
  setMethod('interactive')
  const s = ((performance.now() - t0) / 1000).toFixed(1)
  $('interactive-status').textContent = `${out.voxels} voxels by ${out.method} in ${s} s`
  $('interactive-status').dataset.voxels = out.voxels
}

async function accept() {
  const checked = document.querySelector('input[name="score"]:checked')
  if (!checked) {
    $('accept-status').textContent = 'Choose a quality score first.'
    return
  }
  const form = new FormData()
  form.append('score', checked.value)
  form.append('method', state.method)
  if (state.method !== 'automatic') {
    const bytes = await nv.saveImage({ filename: '', isSaveDrawing: true })
    form.append('mask', new Blob([bytes], { type: 'application/gzip' }), 'mask.nii')
  }
  const r = await fetch(`${api}/accept`, { method: 'POST', headers: { 'X-CSRF-Token': csrf }, body: form })
  const out = await r.json()
  $('accept-status').textContent = r.ok
    ? `Accepted: ${out.score}, ${out.method}, ${out.voxels} voxels; job ${out.state}.`
    : `Refused: ${out.detail}`
  $('accept-status').dataset.ok = r.ok ? '1' : '0'
}

function drawnVoxels() {
  let n = 0
  if (nv.drawBitmap) for (const v of nv.drawBitmap) if (v) n++
  return n
}

async function main() {
  await nv.attachTo('gl')
  nv.setSliceType(nv.sliceTypeMultiplanar)
  await nv.loadVolumes([{ url: `${api}/image.nii.gz`, name: 'image.nii.gz' }])
  if (root.dataset.hasMask === '1') await nv.loadDrawingFromUrl(`${api}/mask.nii.gz?t=${Date.now()}`)
  else nv.createEmptyDrawing()
  nv.setDrawOpacity(0.5)
  nv.onDrawingChanged = () => { if (state.mode === 'brush' || state.mode === 'erase') setMethod('manual') }
  $('gl').addEventListener('pointerup', (e) => {
    if (state.mode === 'points' && e.button === 0) setTimeout(() => addPoint(crosshairNative()), 0)
  })
  $('opacity').addEventListener('input', (e) => nv.setDrawOpacity(parseFloat(e.target.value)))
  $('pen-size').addEventListener('change', (e) => { nv.opts.penSize = parseInt(e.target.value, 10) })
  $('mode-points').onclick = () => setMode('points')
  $('mode-brush').onclick = () => setMode('brush')
  $('mode-erase').onclick = () => setMode('erase')
  $('mode-navigate').onclick = () => setMode('navigate')
  $('add-point').onclick = () => addPoint(crosshairNative())
  $('undo-point').onclick = () => { state.points.pop(); renderPoints() }
  $('undo-draw').onclick = () => nv.drawUndo()
  $('run-interactive').onclick = runInteractive
  $('accept').onclick = accept
  setMode('navigate')
  root.dataset.ready = '1'
}

// for tests and power users: keyboard-free navigation to a voxel, and the layer's voxel count
window.lipo = { nv, state, gotoVoxel, crosshairNative, rasToNative, nativeToRas, drawnVoxels }
main().catch((err) => {
  $('accept-status').textContent = `Viewer failed: ${err}`
  root.dataset.ready = 'error'
})

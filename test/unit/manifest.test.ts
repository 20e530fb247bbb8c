// [H14] The manifest has what an installable app needs, and its icons are real PNGs of the stated sizes.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const CLIENT = join(import.meta.dir, '..', '..', 'client')
const manifest = JSON.parse(readFileSync(join(CLIENT, 'manifest.webmanifest'), 'utf8'))

test('[H14] name, short_name, start_url, display standalone, theme colour', () => {
  expect(manifest).toMatchObject({
    name: 'Townhall',
    short_name: 'Townhall',
    start_url: '/',
    display: 'standalone',
    scope: '/',
  })
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i)
  expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/i)
  const html = readFileSync(join(CLIENT, 'index.html'), 'utf8')
  expect(html).toContain(`<meta name="theme-color" content="${manifest.theme_color}">`)
  expect(html).toContain('<link rel="manifest" href="/manifest.webmanifest">')
})

test('[H14] 192 and 512 icons plus a maskable one, each a PNG of its stated size', () => {
  const purposes = new Set<string>()
  const sizes = new Set<string>()
  for (const icon of manifest.icons) {
    const png = readFileSync(join(CLIENT, icon.src))
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10])
    const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)]
    expect(`${w}x${h}`).toBe(icon.sizes)
    expect(icon.type).toBe('image/png')
    purposes.add(icon.purpose)
    sizes.add(icon.sizes)
  }
  expect([...sizes]).toEqual(expect.arrayContaining(['192x192', '512x512']))
  expect([...purposes]).toEqual(expect.arrayContaining(['any', 'maskable']))
})

// Builds the PWA: the app bundle, the service worker (stamped with the bundle's hash) and the static files.
// Used in memory by the server when run from source, and written to client/dist by `npm run build`.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..', 'client')
const STATIC = ['index.html', 'manifest.webmanifest', 'app.css']

export interface Asset {
  path: string
  bytes: Uint8Array
  type: string
}

/** Bun.build, with a failure's messages (file, line, what) in the error instead of a bare "Bundle failed". */
async function bundle(what: string, config: Parameters<typeof Bun.build>[0]) {
  let out: Awaited<ReturnType<typeof Bun.build>>
  try {
    out = await Bun.build({ ...config, throw: false })
  } catch (e) {
    throw new Error(`client: ${what} bundle failed: ${(e as Error).message}`, { cause: e })
  }
  if (!out.success)
    throw new Error(`client: ${what} bundle failed:\n${out.logs.map((l) => `  ${String(l)}`).join('\n')}`)
  return out
}

export async function buildClient(opts: { minify?: boolean } = {}): Promise<Asset[]> {
  const minify = opts.minify ?? true
  const app = await bundle('app', {
    entrypoints: [join(ROOT, 'main.ts')],
    target: 'browser',
    minify,
    sourcemap: 'none',
    naming: 'app.js',
  })
  const appBytes = new Uint8Array(await app.outputs[0]!.arrayBuffer())
  const assets: Asset[] = [{ path: 'app.js', bytes: appBytes, type: 'text/javascript; charset=utf-8' }]
  for (const name of STATIC) {
    const f = Bun.file(join(ROOT, name))
    assets.push({ path: name, bytes: new Uint8Array(await f.arrayBuffer()), type: f.type })
  }
  for (const name of readdirSync(join(ROOT, 'icons'))) {
    const f = Bun.file(join(ROOT, 'icons', name))
    assets.push({ path: `icons/${name}`, bytes: new Uint8Array(await f.arrayBuffer()), type: f.type })
  }
  // The worker's version is a hash of everything it caches, so any change makes browsers see an update.
  const hasher = new Bun.CryptoHasher('sha256')
  for (const a of assets) hasher.update(a.bytes)
  const version = hasher.digest('hex').slice(0, 12)
  const sw = await bundle('service worker', {
    entrypoints: [join(ROOT, 'sw.ts')],
    target: 'browser',
    minify,
    naming: 'sw.js',
    define: {
      __VERSION__: JSON.stringify(version),
      __ASSETS__: JSON.stringify(['/', ...assets.map((a) => `/${a.path}`).filter((p) => p !== '/index.html')]),
    },
  })
  assets.push({
    path: 'sw.js',
    bytes: new Uint8Array(await sw.outputs[0]!.arrayBuffer()),
    type: 'text/javascript; charset=utf-8',
  })
  return assets
}

if (import.meta.main) {
  const out = join(ROOT, 'dist')
  for (const a of await buildClient()) await Bun.write(join(out, a.path), a.bytes)
  console.log(`client built into ${out}`)
}

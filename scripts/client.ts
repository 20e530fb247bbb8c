// Builds the PWA for a fast first load: the app split at its lazy screens (`import()`), minified, with hashed names
// (app.<hash>.js, chunk.<hash>.js, app.<hash>.css: served immutable), index.html pointing at them with preload links
// for what the first screen needs (the entry's chunks and the who-am-I), the service worker (its precache list is the
// built shell) and the static files; every text file also brotli- and gzip-compressed (`<name>.br`, `<name>.gz`).
// The htm templates are compiled to Preact calls on the way (scripts/htm.ts).
// Used in memory by the server when run from source, and written to client/dist by `npm run build`.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { htmPlugin } from './htm'

const ROOT = join(import.meta.dir, '..', 'client')
const STATIC = ['manifest.webmanifest']
/** The who-am-I the app asks first (client/app/accounts.ts fetchSession); index.html preloads it. */
const WHO_AM_I = '/api/session'
/** What is worth compressing (PNG icons already are). */
const COMPRESSIBLE = /\.(js|css|html|webmanifest|svg|json)$/

export interface Asset {
  path: string
  bytes: Uint8Array
  type: string
}

type BuildConfig = Parameters<typeof Bun.build>[0]

/** Bun.build, with a failure's messages (file, line, what) in the error instead of a bare "Bundle failed". */
async function bundle(what: string, config: BuildConfig) {
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

const JS = 'text/javascript; charset=utf-8'
const bytesOf = async (b: Blob) => new Uint8Array(await b.arrayBuffer())
const name = (outputPath: string) => outputPath.replace(/^\.\//, '')

/** The brotli and gzip (best) forms of a text file; brotli at its best too, unless it is over 1 MB (seconds). */
export function compressed(a: Asset): Asset[] {
  if (!COMPRESSIBLE.test(a.path)) return []
  const br = brotliCompressSync(a.bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: a.bytes.byteLength > 1 << 20 ? 5 : constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: a.bytes.byteLength,
    },
  })
  const gz = gzipSync(a.bytes, { level: 9 })
  return [
    { path: `${a.path}.br`, bytes: new Uint8Array(br), type: a.type },
    { path: `${a.path}.gz`, bytes: new Uint8Array(gz), type: a.type },
  ]
}

export async function buildClient(opts: { minify?: boolean } = {}): Promise<Asset[]> {
  // CLIENT_MINIFY=0: unminified, for readable names in a profile (test/bench/lighthouse.ts).
  const minify = opts.minify ?? process.env.CLIENT_MINIFY !== '0'
  const app = await bundle('app', {
    entrypoints: [join(ROOT, 'main.ts')],
    target: 'browser',
    minify,
    sourcemap: 'none',
    splitting: true,
    naming: { entry: 'app.[hash].[ext]', chunk: 'chunk.[hash].[ext]' },
    metafile: true,
    // The htm templates compiled to h() calls (scripts/htm.ts): the browser parses none on the first render.
    plugins: [htmPlugin],
  } as BuildConfig)
  const assets: Asset[] = []
  for (const o of app.outputs) assets.push({ path: name(o.path), bytes: await bytesOf(o), type: JS })
  const entry = app.outputs.find((o) => o.kind === 'entry-point')
  if (!entry) throw new Error('client: the app bundle has no entry point')
  const entryName = name(entry.path)

  // The chunks the entry imports statically (and theirs): preloaded, so they load beside the entry, not after it.
  const meta = (
    app as unknown as { metafile: { outputs: Record<string, { imports: { path: string; kind: string }[] }> } }
  ).metafile.outputs
  const preload: string[] = []
  const visit = (out: string) => {
    for (const i of meta[`./${out}`]?.imports ?? meta[out]?.imports ?? []) {
      const n = name(i.path)
      if (i.kind === 'import-statement' && !preload.includes(n)) {
        preload.push(n)
        visit(n)
      }
    }
  }
  visit(entryName)

  const css = await bundle('styles', {
    entrypoints: [join(ROOT, 'app.css')],
    minify: true,
    naming: 'app.[hash].[ext]',
  })
  const cssOut = css.outputs[0]!
  const cssName = name(cssOut.path)
  assets.push({ path: cssName, bytes: await bytesOf(cssOut), type: 'text/css; charset=utf-8' })

  const source = await Bun.file(join(ROOT, 'index.html')).text()
  const html = source
    .replace('<link rel="stylesheet" href="/app.css">', `<link rel="stylesheet" href="/${cssName}">`)
    .replace(
      '<script type="module" src="/app.js"></script>',
      [
        `<link rel="preload" href="${WHO_AM_I}" as="fetch" crossorigin>`,
        ...preload.map((p) => `<link rel="modulepreload" href="/${p}">`),
        `<script type="module" src="/${entryName}"></script>`,
      ].join('\n  '),
    )
  if (html === source || !html.includes(cssName) || !html.includes(entryName))
    throw new Error('client: index.html must link /app.css and /app.js (the build swaps in the hashed names)')
  assets.push({ path: 'index.html', bytes: new TextEncoder().encode(html), type: 'text/html; charset=utf-8' })

  for (const n of STATIC) {
    const f = Bun.file(join(ROOT, n))
    assets.push({ path: n, bytes: await bytesOf(f), type: f.type })
  }
  for (const n of readdirSync(join(ROOT, 'icons'))) {
    const f = Bun.file(join(ROOT, 'icons', n))
    assets.push({ path: `icons/${n}`, bytes: await bytesOf(f), type: f.type })
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
  assets.push({ path: 'sw.js', bytes: await bytesOf(sw.outputs[0]!), type: JS })
  return [...assets, ...assets.flatMap(compressed)]
}

if (import.meta.main) {
  const out = join(ROOT, 'dist')
  for (const a of await buildClient()) await Bun.write(join(out, a.path), a.bytes)
  console.log(`client built into ${out}`)
}

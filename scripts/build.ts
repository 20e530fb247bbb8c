// `npm run build`: the client bundle into client/dist, then one executable, dist/townhall, with the client, icons,
// service worker, the API reference's script and SQL migrations inside (server/http/static.ts reads
// Bun.embeddedFiles under client/dist/).
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { buildClient, compressed } from './client'
import { UI_ASSET, uiScriptPath } from '../server/http/openapi'

const ROOT = join(import.meta.dir, '..')
export const CLIENT_DIST = join(ROOT, 'client', 'dist')
export const BINARY = join(ROOT, 'dist', 'townhall')

export async function build(opts: { outfile?: string; quiet?: boolean } = {}) {
  const outfile = opts.outfile ?? BINARY
  const say = (s: string) => {
    if (!opts.quiet) console.log(s)
  }
  const t0 = performance.now()

  rmSync(CLIENT_DIST, { recursive: true, force: true })
  const assets = await buildClient({ minify: true })
  for (const a of assets) await Bun.write(join(CLIENT_DIST, a.path), a.bytes)
  // The API reference's script (Scalar's standalone bundle), served at /openapi/ui.js from the binary.
  const ui = {
    path: UI_ASSET,
    bytes: new Uint8Array(await Bun.file(uiScriptPath()).arrayBuffer()),
    type: 'text/javascript',
  }
  for (const a of [ui, ...compressed(ui)]) await Bun.write(join(CLIENT_DIST, a.path), a.bytes)
  say(`client: ${assets.length} files in ${relative(ROOT, CLIENT_DIST)}, and the API reference's script`)

  mkdirSync(join(outfile, '..'), { recursive: true })
  // Run from the repository root so that --asset keeps the path client/dist/… inside the binary.
  const p = Bun.spawn(
    [
      process.execPath,
      'build',
      '--compile',
      '--minify',
      '--sourcemap=none',
      '--no-compile-autoload-bunfig',
      'server/main.ts',
      // The backup worker (server/db/backup.ts starts it by URL) is a second entry point inside the binary.
      'server/db/backup-worker.ts',
      // The media workers' module (server/media/worker-plane.ts starts them by URL), a third.
      'server/media/worker.ts',
      // The replay worker (server/replays/worker-client.ts starts it by URL), a fourth, with the Opus codec's
      // WebAssembly.
      'server/replays/worker.ts',
      '--asset=client/dist',
      '--outfile',
      outfile,
    ],
    { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' },
  )
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  if (code !== 0) throw new Error(`build: bun build --compile failed (${code}):\n${out}\n${err}`)
  const size = statSync(outfile).size
  say(
    `binary: ${relative(ROOT, outfile) || outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) ` +
      `in ${Math.round(performance.now() - t0)} ms`,
  )
  return { outfile, size }
}

if (import.meta.main) {
  try {
    await build()
  } catch (e) {
    console.error((e as Error).message)
    process.exit(1)
  }
}

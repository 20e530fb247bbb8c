// A real Postgres for a test: a throwaway cluster from Debian's `postgresql` package (initdb into a temporary folder,
// started with pg_ctl on a free loopback port, its socket in that folder, nothing fsynced), removed after. As root
// (CI containers), initdb and the server run as the `postgres` user (Postgres refuses to run as root). Where it cannot
// start (not installed, no `postgres` user), startPostgres() says why and returns null: the Postgres tests skip.
import { SQL } from 'bun'
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort } from './redis'

export interface TestPostgres {
  /** The cluster's `postgres` database (to create others). */
  url: string
  port: number
  /** A fresh, empty database on the cluster (each suite or test gets its own), as a URL. */
  database(name: string): Promise<string>
  stop(): Promise<void>
}

/** The folder holding initdb and pg_ctl: initdb's on PATH (a link followed), else Debian's newest. */
function binDir(): string | null {
  const onPath = Bun.which('initdb')
  if (onPath) return dirname(realpathSync(onPath))
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length ? join(root, versions[0]!, 'bin') : null
}

const skip = (why: string) => {
  console.warn(`postgres: skipped: ${why}`)
  return null
}

/** Starts a throwaway cluster; null (with the reason on stderr) when it cannot start. */
export async function startPostgres(): Promise<TestPostgres | null> {
  const bin = binDir()
  if (!bin) return skip('initdb is not installed (Debian: apt-get install postgresql; .ci/run does)')
  const asRoot = process.getuid?.() === 0
  let uid = 0
  let gid = 0
  if (asRoot) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
    const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
    if (id.status !== 0) return skip('running as root and there is no `postgres` user to run the server as')
    uid = Number(id.stdout.trim())
    gid = Number(g.stdout.trim())
  }
  const dir = mkdtempSync(join(tmpdir(), 'townhall-pg-'))
  if (asRoot) chownSync(dir, uid, gid)
  // As root, every Postgres command runs as `postgres` (runuser keeps the environment minimal and needs no password).
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, cmd), ...args] : [join(bin, cmd), ...args]
    return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 })
  }
  const data = join(dir, 'data')
  const init = run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-locale'])
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    return skip(`initdb failed: ${(init.stderr || init.error?.message || '').trim().slice(0, 500)}`)
  }
  const stopNow = () => run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop'])
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const opts = [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses='127.0.0.1'",
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=50',
    ].join(' ')
    const log = join(dir, 'server.log')
    const started = run('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start'])
    if (started.status !== 0) {
      stopNow()
      if (attempt < 2) continue
      const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-500) : started.stderr
      rmSync(dir, { recursive: true, force: true })
      return skip(`the server did not start: ${tail.trim()}`)
    }
    // A test process that ends without stop() (a crash, ^C) still takes its cluster down.
    const onExit = () => {
      stopNow()
      rmSync(dir, { recursive: true, force: true })
    }
    process.once('exit', onExit)
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`
    const admin = new SQL({ url, max: 1 })
    return {
      url,
      port,
      async database(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lower case, digits and _`)
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`)
        await admin.unsafe(`CREATE DATABASE ${name}`)
        return `postgres://postgres@127.0.0.1:${port}/${name}`
      },
      async stop() {
        await admin.close({ timeout: 0 })
        process.removeListener('exit', onExit)
        onExit()
      },
    }
  }
  return null
}

#!/usr/bin/env bun
// The townhall command: serve (default) | admin create | invite create | user reset-password | backup | restore |
// healthcheck | migrate | migrate-to-postgres | --help
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ConfigError, helpTable, loadConfig, publicOrigin, type Config } from './config'
import { openTownhall, startServer, VERSION } from './app'
import { migrateWithBackup, openDatabase } from './db/open'
import { allocatorHint } from './lib/allocator'
import { latestVersion, schemaVersion, SchemaTooNewError } from './db/migrate'
import { AppError } from './errors'
import { parseDuration } from './invites/model'
import { createBackup, type BackupResult } from './db/backup'
import { restoreBackup, RestoreError } from './db/restore'
import { copyToPostgres, MigrateToPostgresError } from './db/to-postgres'
import { PgConn, pgSchemaVersion } from './db/postgres'
import { migrateConn } from './db/conn'
import { PG_MIGRATIONS } from './db/migrations/pg'
import { SQL } from 'bun'
import { Value } from '@sinclair/typebox/value'
import { Username } from './accounts/model'

const USAGE = `Townhall ${VERSION}: live audio rooms and Backchannel for your community.

Usage: townhall [command] [options]

Commands:
  serve                                  Run the server (default)
  admin create --username NAME           Create an admin; password from --password-file F or stdin
  invite create [--uses N] [--expires 7d] [--note TEXT]
                                         Create an invite link (printed as the last line)
  user reset-password NAME               Print a one-time link (valid 24 h) that lets NAME choose a new password
  backup [FILE]                          Write a backup (database snapshot and uploads, one .tar file) to FILE,
                                         by default DATA_DIR/backups/townhall-<time>.tar; prints its path
                                         alone on stdout (a summary on stderr).
                                         With DATABASE_URL: pg_dump (PG_DUMP) or a logical export of Postgres
  restore FILE                           Check a backup and restore it into DATA_DIR (the server must be stopped);
                                         what DATA_DIR held is moved aside into DATA_DIR/replaced-<time>/.
                                         With DATABASE_URL: a Postgres backup into that empty database
  migrate                                Apply database migrations (SQLite, or DATABASE_URL's Postgres) and exit
  migrate-to-postgres URL                Copy this community (DATA_DIR's SQLite database) into the empty Postgres
                                         database at URL (postgres://…), one way; stop the server first
  healthcheck                            Exit 0 when the server on PORT answers /healthz, 1 otherwise
  --help, --version

`

async function readSecret(file: string | undefined): Promise<string> {
  const text = file ? await Bun.file(file).text() : await new Response(Bun.stdin.stream()).text()
  return text.replace(/\r?\n$/, '')
}

/**
 * `townhall backup`'s output: the path alone on stdout (`path=$(townhall backup)`), first, then the summary on stderr
 * (so `2>&1` still starts with the path).
 */
function printBackup(r: BackupResult, what: string) {
  console.log(r.file)
  // For a person at a terminal only: a script reading both streams (`docker exec … 2>&1`) gets the path alone, as
  // two pipes keep no order between them.
  if (process.stderr.isTTY) console.error(`backup: ${r.files} files, ${r.size} bytes, ${what}`)
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      uses: { type: 'string' },
      expires: { type: 'string' },
      note: { type: 'string' },
    },
  })
  if (values.help) {
    console.log(USAGE + helpTable())
    return 0
  }
  if (values.version) {
    console.log(VERSION)
    return 0
  }
  const [cmd = 'serve', sub] = positionals
  const config = loadConfig()

  switch (cmd) {
    case 'serve':
      return serve(config)
    case 'healthcheck': {
      try {
        const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
        const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${config.port}/healthz`, {
          signal: AbortSignal.timeout(3000),
        })
        const body = (await res.json()) as { status?: string }
        console.log(`healthcheck: ${res.status} ${body.status}`)
        return res.ok && body.status === 'ok' ? 0 : 1
      } catch (e) {
        console.error(`healthcheck: no answer on port ${config.port}: ${(e as Error).message}`)
        return 1
      }
    }
    case 'migrate': {
      if (config.databaseUrl) {
        // Two connections: one holds the migration's lock while the backup taken before migrating reads.
        const conn = new PgConn(config.databaseUrl, { max: 2 })
        try {
          const before = await pgSchemaVersion(conn.sql)
          const applied = await migrateConn(conn, {
            dataDir: config.dataDir,
            pgDump: config.pgDump,
            backedUp: (file) => console.log(`migrate: backed up the database before migrating: ${file}`),
          })
          console.log(
            applied.length
              ? `migrated Postgres from version ${before} to ${PG_MIGRATIONS.length} (applied ${applied.join(', ')})`
              : `Postgres database is up to date (version ${before})`,
          )
        } finally {
          await conn.close()
        }
        return 0
      }
      const db = openDatabase(config.dataDir, { migrate: false })
      const before = schemaVersion(db)
      const applied = migrateWithBackup(db, config.dataDir)
      console.log(
        applied.length
          ? `migrated from version ${before} to ${latestVersion()}`
          : `database is up to date (version ${before})`,
      )
      db.close()
      return 0
    }
    case 'migrate-to-postgres': {
      const url = sub ?? process.env.DATABASE_URL
      if (!url || !/^postgres(ql)?:\/\//.test(url))
        throw new UsageError('usage: townhall migrate-to-postgres postgres://USER:PASSWORD@HOST/DATABASE')
      const db = openDatabase(config.dataDir)
      const sql = new SQL({ url, max: 1 })
      try {
        const r = await copyToPostgres(db, sql, (line) => console.log(`migrate-to-postgres: ${line}`))
        console.log(
          `migrate-to-postgres: ${r.rows} rows in ${r.tables.length} tables copied at schema version ` +
            `${r.schemaVersion} in ${r.ms} ms; the SQLite database is unchanged`,
        )
      } finally {
        db.close()
        await sql.close({ timeout: 5 })
      }
      return 0
    }
    case 'backup': {
      if (config.databaseUrl) {
        const conn = new PgConn(config.databaseUrl, { max: 2 })
        try {
          const r = await createBackup(conn, config.dataDir, sub ? resolve(sub) : undefined, undefined, {
            pgDump: config.pgDump,
            warn: (message) => console.error(message),
          })
          printBackup(r, `Postgres database by ${r.integrity}`)
        } finally {
          await conn.close()
        }
        return 0
      }
      const db = openDatabase(config.dataDir)
      try {
        const r = await createBackup(db, config.dataDir, sub ? resolve(sub) : undefined)
        printBackup(r, `database integrity ${r.integrity}`)
      } finally {
        db.close()
      }
      return 0
    }
    case 'restore': {
      if (!sub) throw new UsageError('usage: townhall restore FILE (with the server stopped)')
      const r = await restoreBackup(resolve(sub), config.dataDir, {
        databaseUrl: config.databaseUrl,
        pgDump: config.pgDump,
      })
      for (const w of r.warnings) console.warn(`restore: warning: ${w}`)
      const m = r.manifest
      console.log(
        `restore: ${m.files.length} files from a backup of ${m.createdAt} (Townhall ${m.townhall}, ` +
          `schema ${m.schemaVersion}) restored into ${config.dataDir}` +
          (m.database === 'postgres' ? ` and the Postgres database (${m.dump})` : ''),
      )
      if (r.movedAside) console.log(`restore: what the folder held before is in ${r.movedAside}`)
      console.log('restore: start the server; it applies any newer migrations')
      return 0
    }
    case 'admin': {
      if (sub !== 'create' || !values.username)
        throw new UsageError('usage: townhall admin create --username NAME [--password-file FILE]')
      if (!Value.Check(Username, values.username)) throw new UsageError('--username must be 3 to 20 of a-z, 0-9 and _')
      const password = await readSecret(values['password-file'])
      // The same graph as the server's, not started: nothing of a running server's rooms or timers is touched.
      const t = await openTownhall(config)
      try {
        await t.core.settings.load()
        const id = await t.accounts.service.createAdmin(values.username, validatePassword(password))
        console.log(`admin @${values.username} created (id ${id})`)
      } finally {
        await t.core.conn.close()
      }
      return 0
    }
    case 'user': {
      const name = positionals[2]
      if (sub !== 'reset-password' || !name) throw new UsageError('usage: townhall user reset-password NAME')
      const t = await openTownhall(config)
      try {
        await t.core.settings.load()
        await t.accounts.load()
        const u = t.accounts.api.byName(name.toLowerCase())
        if (!u) throw new UsageError(`no member @${name}`)
        if (u.status === 'banned') throw new UsageError(`@${u.username} is banned: unban them first`)
        const link = await t.admin.service.resetLink(null, u.id)
        console.log(`a one-time password-reset link for @${u.username}, valid 24 h (older links no longer work):`)
        console.log(link.url)
      } finally {
        await t.core.conn.close()
      }
      return 0
    }
    case 'invite': {
      if (sub !== 'create')
        throw new UsageError('usage: townhall invite create [--uses N] [--expires 7d] [--note TEXT]')
      const uses = values.uses === undefined ? 1 : Number(values.uses)
      if (!Number.isInteger(uses) || uses < 1 || uses > 1000)
        throw new UsageError('--uses must be an integer from 1 to 1000')
      let expiresInMs: number | undefined
      try {
        expiresInMs = values.expires ? parseDuration(values.expires) : undefined
      } catch (e) {
        throw new UsageError(`--expires: ${(e as Error).message}`)
      }
      if ((values.note ?? '').length > 200) throw new UsageError('--note may be at most 200 characters')
      const t = await openTownhall(config)
      try {
        await t.core.settings.load()
        const inv = await t.invites.service.create(null, { uses, expiresInMs, note: values.note })
        const expiry = values.expires ? `, expires in ${values.expires}` : ''
        console.log(`invite created: ${uses} use${uses === 1 ? '' : 's'}${expiry}`)
        console.log(inv.url)
      } finally {
        await t.core.conn.close()
      }
      return 0
    }
    default:
      throw new UsageError(`unknown command "${cmd}"; see townhall --help`)
  }
}

class UsageError extends Error {}

function validatePassword(pw: string) {
  if (pw.length < 10 || pw.length > 256) throw new UsageError('the password must be 10 to 256 characters')
  return pw
}

async function serve(config: Config): Promise<number> {
  const t0 = performance.now()
  const server = await startServer(config)
  const { core, accounts } = server.ctx
  const log = core.log
  const origin = publicOrigin(config, server.port)
  log.info(
    `townhall ${VERSION} listening on ${config.host}:${server.port} (${origin}), data in ${config.dataDir}, ` +
      `ready in ${Math.round(performance.now() - t0)} ms`,
  )
  // Several nodes: which one this is (its slot numbers its connections; its id holds its room leases in Redis).
  if (server.ctx.cluster) log.info(`cluster: node ${core.id}, slot ${server.ctx.cluster.node.slot}, on Redis`)
  const hint = allocatorHint()
  if (hint) log.info(hint)
  const token = await accounts.service.setupTokenFor()
  if (token) {
    console.log(
      `\n  No admin yet. Open this one-time link to create the admin account:\n\n    ${origin}/setup/${token}\n`,
    )
  }
  let stopping = false
  const stop = async (sig: string) => {
    if (stopping) return
    stopping = true
    log.info(`received ${sig}, stopping`)
    // SIGTERM drains a node of a cluster first (its rooms wind down, its sockets move); one node stops as before.
    await (sig === 'SIGTERM' ? server.drain() : server.stop())
    process.exit(0)
  }
  // A library's stray error (a UDP socket's, a promise nobody awaited) must not take every room down with it:
  // it is logged with its stack, and the process keeps serving.
  process.on('uncaughtException', (error) => log.error('process: uncaught exception', { error }))
  process.on('unhandledRejection', (error) => log.error('process: unhandled rejection', { error }))
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  return -1 // keep running
}

if (import.meta.main) {
  run(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code)
    },
    (e) => {
      if (
        e instanceof ConfigError ||
        e instanceof UsageError ||
        e instanceof SchemaTooNewError ||
        e instanceof RestoreError ||
        e instanceof MigrateToPostgresError
      )
        console.error(`townhall: ${e.message}`)
      else if (e instanceof AppError) console.error(`townhall: ${e.message}`)
      else if ((e as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS'))
        console.error(`townhall: ${(e as Error).message}`)
      // DATABASE_URL's Postgres refusing or failing (Bun.SQL's codes): one line, without the URL.
      else if (String((e as { code?: unknown }).code ?? '').startsWith('ERR_POSTGRES'))
        console.error(`townhall: Postgres (DATABASE_URL): ${(e as Error).message} (${(e as { code: string }).code})`)
      // System errors (a port in use, a data folder that cannot be written): the message says it all.
      else if (/^E[A-Z]+$/.test(String((e as { code?: unknown }).code ?? '')))
        console.error(`townhall: ${(e as Error).message} (${(e as { code: string }).code})`)
      else console.error(e)
      process.exit(2)
    },
  )
}

export { run }

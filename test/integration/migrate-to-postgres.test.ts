// [H71] `townhall migrate-to-postgres URL`: a community built through a real server on SQLite (members, follows, an
// invite, DMs with a reaction, a scheduled room with an RSVP) is copied by the CLI (a child process) into a throwaway
// Postgres; every table holds the same rows there, row for row, and new rows take ids after the copied ones. A
// second run refuses the database that is no longer empty and changes nothing; the SQLite file is untouched.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { SQL } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeAll, dm, follow, person, send, type Person } from '../helpers/backchannel'
import { townhall } from '../helpers/cli'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { signedInClient, startTestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-topg-'))
const dataDir = join(tmp, 'data')

let pg: TestPostgres | null = null
let url = ''

/** A table's rows in one comparable shape: numbers, text, bytes as hex, by every column in order. */
function normalise(rows: Record<string, unknown>[]): string[] {
  return rows
    .map((r) =>
      JSON.stringify(
        Object.keys(r)
          .sort()
          .map((k) => {
            const v = r[k]
            if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
            if (typeof v === 'bigint') return Number(v)
            if (typeof v === 'boolean') return v ? 1 : 0
            if (typeof v === 'string' && /^-?\d+$/.test(v) && k !== 'body' && k !== 'value') return Number(v)
            return v
          }),
      ),
    )
    .sort()
}

beforeAll(async () => {
  pg = await startPostgres()
  if (!pg) return
  url = await pg.database('topg')
  // The community, on SQLite, through the server.
  const s = await startTestServer({}, { keepDir: dataDir })
  const people: Person[] = []
  try {
    const admin = await signedInClient(s, 'pgadmin', 'admin')
    expect((await admin.post('/api/invites', { uses: 3, note: 'for the book club' })).status).toBeLessThan(300)
    const a = await person(s, 'pg')
    const b = await person(s, 'pg')
    people.push(a, b)
    await follow(a, b)
    await follow(b, a)
    const thread = await dm(a, b)
    for (let i = 0; i < 3; i++) await send(a, thread, `hello ${i} — ünïcode ✓`)
    const room = await a.http.post('/api/rooms', {
      title: 'Reading group',
      kind: 'open',
      startsAt: Date.now() + 3_600_000,
    })
    expect(room.status).toBeLessThan(300)
    expect((await b.http.put(`/api/rooms/${room.json.room.id}/rsvp`, { answer: 'yes' })).status).toBe(200)
  } finally {
    closeAll(people)
    await s.stop()
  }
})

afterAll(async () => {
  await pg?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe('migrate-to-postgres', () => {
  test('[H71] every table arrives row for row; new rows take ids after the copied ones', async () => {
    if (!pg) return console.warn('migrate-to-postgres: skipped (no Postgres)')
    const r = await townhall(['migrate-to-postgres', url], { DATA_DIR: dataDir })
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toContain('the SQLite database is unchanged')

    const db = new Database(join(dataDir, 'townhall.db'), { readonly: true })
    const sql = new SQL({ url, max: 1 })
    try {
      const pgTables = (
        await sql`SELECT table_name AS t FROM information_schema.tables
                   WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_version'`
      ).map((x: { t: string }) => x.t) as string[]
      const nonEmpty: string[] = []
      for (const t of pgTables) {
        const cols = (
          await sql`SELECT column_name AS c FROM information_schema.columns
                     WHERE table_schema = 'public' AND table_name = ${t} AND is_generated = 'NEVER'`
        ).map((x: { c: string }) => x.c) as string[]
        const list = cols.map((c) => `"${c}"`).join(', ')
        const mine = normalise(db.query<Record<string, unknown>, []>(`SELECT ${list} FROM "${t}"`).all())
        const theirs = normalise(await sql.unsafe(`SELECT ${list} FROM "${t}"`))
        expect({ t, rows: theirs }).toEqual({ t, rows: mine })
        if (mine.length) nonEmpty.push(t)
      }
      // The copy is about something: the community's main tables were filled.
      for (const t of ['users', 'sessions', 'invites', 'follows', 'bc_threads', 'bc_messages', 'rooms', 'room_rsvps'])
        expect(nonEmpty).toContain(t)
      // Postgres's own parts work on the copied rows: the search column, the seq's sequence past the last seq.
      const found = await sql`SELECT count(*)::int AS n FROM bc_messages WHERE search @@ to_tsquery('simple', 'hell:*')`
      expect(found[0].n).toBe(3)
      const [counter] = await sql`SELECT seq FROM bc_counter WHERE id = 1`
      expect(Number(counter.seq)).toBeGreaterThan(0)
      const [next] = await sql`SELECT nextval('bc_seq') AS n`
      expect(Number(next.n)).toBe(Number(counter.seq) + 1)
      // The identity sequences moved past the copied ids.
      const [max] = await sql`SELECT MAX(id)::bigint AS id FROM users`
      const [made] = await sql`
        INSERT INTO users (username, password_hash, created_at) VALUES ('newcomer', 'x', ${Date.now()}) RETURNING id`
      expect(Number(made.id)).toBeGreaterThan(Number(max.id))
    } finally {
      db.close()
      await sql.close()
    }
  })

  test('[H71] a database that is not empty is refused and left as it was', async () => {
    if (!pg) return console.warn('migrate-to-postgres: skipped (no Postgres)')
    const sql = new SQL({ url, max: 1 })
    try {
      const count = async () => Number((await sql`SELECT count(*)::bigint AS n FROM users`)[0].n)
      const before = await count()
      const r = await townhall(['migrate-to-postgres', url], { DATA_DIR: dataDir })
      expect(r.code).toBe(2)
      expect(r.err).toContain('is not empty')
      expect(await count()).toBe(before)
    } finally {
      await sql.close()
    }
  })

  test('[H71] a URL that is not postgres:// gets the usage line', async () => {
    const r = await townhall(['migrate-to-postgres', 'mysql://x'], { DATA_DIR: dataDir })
    expect(r.code).toBe(2)
    expect(r.err).toContain('usage: townhall migrate-to-postgres postgres://')
  })
})

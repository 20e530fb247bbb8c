// The protocol module: it imports nothing but TypeBox, every request type has exactly one handler once the context is
// built, and no error code is defined by two domains.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildTownhall } from '../../server/app'
import { loadConfig } from '../../server/config'
import { createLogger } from '../../server/lib/log'
import { ERRORS, Requests } from '../../server/protocol'
import {
  AccountErrors,
  AdminErrors,
  CommonErrors,
  InviteErrors,
  PushErrors,
  ReplayLibraryErrors,
} from '../../server/protocol/errors'
import { ActivityErrors } from '../../server/protocol/activity'
import { BackchannelErrors } from '../../server/protocol/backchannel'
import { MediaErrors } from '../../server/protocol/media'
import { RealtimeErrors } from '../../server/protocol/realtime'
import { RoomErrors } from '../../server/protocol/rooms'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const DIR = join(import.meta.dir, '..', '..', 'server', 'protocol')

test('[W7] the protocol imports nothing but TypeBox and its own parts', () => {
  for (const file of readdirSync(DIR)) {
    const imports = [...readFileSync(join(DIR, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!)
    for (const from of imports)
      expect([file, from.startsWith('./') || from.startsWith('@sinclair/typebox')]).toEqual([file, true])
  }
})

test('[W7] every request type of the protocol has exactly one handler', () => {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-protocol-'))
  const th = buildTownhall(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'error' }), { log: createLogger('error', () => {}) })
  try {
    expect(th.hub.missingHandlers()).toEqual([])
    // A second handler for a type is refused at once.
    expect(() => th.hub.handle('ping', () => ({ now: 0 }))).toThrow(/registered twice/)
    expect(Object.keys(Requests).length).toBeGreaterThan(40)
  } finally {
    th.core.db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('[H2] each error code is defined once, with a status and a message', () => {
  const tables = [
    CommonErrors,
    RealtimeErrors,
    AccountErrors,
    InviteErrors,
    AdminErrors,
    PushErrors,
    RoomErrors,
    MediaErrors,
    BackchannelErrors,
    ActivityErrors,
    ReplayLibraryErrors,
  ]
  const codes = tables.flatMap((t) => Object.keys(t))
  expect(codes.filter((c, i) => codes.indexOf(c) !== i)).toEqual([])
  expect(codes.length).toBe(Object.keys(ERRORS).length)
  for (const [code, [status, message]] of Object.entries(ERRORS)) {
    expect([code, status >= 400 && status < 600, message.length > 0, /^[a-z_]+$/.test(code)]).toEqual([
      code,
      true,
      true,
      true,
    ])
  }
})

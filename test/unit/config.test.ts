// [H8] The options table: defaults, parsers, NAME_FILE for secrets, errors that name the variable.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, helpTable, loadConfig, OPTIONS, publicOrigin } from '../../server/config'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const dir = mkdtempSync(join(tmpdir(), 'townhall-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('[H8] the defaults: port 3000, ./data, invite-only registration', () => {
  const c = loadConfig({})
  expect(c).toMatchObject({
    port: 3000,
    host: '0.0.0.0',
    dataDir: './data',
    registration: 'invite',
    inviteQuota: 5,
    sessionDays: 30,
    trustProxy: false,
    publicUrl: '',
    redisUrl: '',
  })
  expect(publicOrigin(c, 3000)).toBe('http://localhost:3000')
  expect(publicOrigin(loadConfig({ PUBLIC_URL: 'https://town.example.org/' }), 3000)).toBe('https://town.example.org')
})

test('[H8] a bad value is refused with a message naming the variable', () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ PORT: 'abc' }, 'PORT', 'integer'],
    [{ PORT: '70000' }, 'PORT', '0..65535'],
    [{ REGISTRATION: 'maybe' }, 'REGISTRATION', 'invite, open, closed'],
    [{ TRUST_PROXY: 'perhaps' }, 'TRUST_PROXY', 'true or false'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL', 'http(s) URL'],
    [{ PUBLIC_URL: 'not a url' }, 'PUBLIC_URL', 'http(s) URL'],
    [{ SESSION_DAYS: '0' }, 'SESSION_DAYS', '1..3650'],
    [{ INVITE_QUOTA: '-1' }, 'INVITE_QUOTA', '0..1000'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'debug'],
    [{ PUBLIC_IP: 'example.org' }, 'PUBLIC_IP', 'IP address'],
    [{ RTC_PORT: '70000' }, 'RTC_PORT', '0..65535'],
    [{ RTC_TCP_PORT: 'x' }, 'RTC_TCP_PORT', 'integer'],
    [{ ICE_TCP: 'true', RTC_TCP_PORT: '3000' }, 'RTC_TCP_PORT', 'differ from PORT'],
    [{ ICE_TCP: 'true', RTC_PORT: '2999' }, 'RTC_TCP_PORT', 'differ from PORT'],
    [{ PORT_FILE: '/etc/hostname' }, 'PORT_FILE', 'only secrets'],
    [{ TURN_SECRET_FILE: join(dir, 'missing') }, 'TURN_SECRET_FILE', 'cannot read'],
    [{ REDIS_URL: 'http://redis:6379' }, 'REDIS_URL', 'redis:// or rediss://'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL', 'redis:// or rediss://'],
  ]
  for (const [env, variable, words] of cases) {
    let err: unknown
    try {
      loadConfig(env)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).variable).toBe(variable)
    expect((err as ConfigError).message).toStartWith(`config: ${variable}: `)
    expect((err as ConfigError).message).toContain(words)
  }
})

test('[H8] secrets may be given as NAME_FILE; the variable itself wins', () => {
  const f = join(dir, 'turn-secret')
  writeFileSync(f, 's3cret-from-file\n')
  expect(loadConfig({ TURN_SECRET_FILE: f }).turnSecret).toBe('s3cret-from-file')
  expect(loadConfig({ METRICS_TOKEN_FILE: f }).metricsToken).toBe('s3cret-from-file')
  expect(loadConfig({ TURN_SECRET: 'direct', TURN_SECRET_FILE: f }).turnSecret).toBe('direct')
})

test('[H8] REDIS_URL takes redis://, rediss:// and valkey:// URLs, and may be read from a file', () => {
  for (const u of ['redis://127.0.0.1:6379', 'rediss://:pw@redis.example.org:6380/2', 'valkey://v:6379'])
    expect(loadConfig({ REDIS_URL: u }).redisUrl).toBe(u)
  const f = join(dir, 'redis-url')
  writeFileSync(f, 'redis://:secret@r:6379\n')
  expect(loadConfig({ REDIS_URL_FILE: f }).redisUrl).toBe('redis://:secret@r:6379')
})

test('[H8] lists, booleans and the help table', () => {
  const c = loadConfig({
    TURN_URLS: 'turn:a:3478, turn:b:3478 ,',
    TRUST_PROXY: 'yes',
    ALLOWED_ORIGINS: 'https://a.example',
  })
  expect(c.turnUrls).toEqual(['turn:a:3478', 'turn:b:3478'])
  expect(c.trustProxy).toBe(true)
  expect(c.allowedOrigins).toEqual(['https://a.example'])
  const help = helpTable()
  for (const o of Object.values(OPTIONS)) expect(help).toContain(o.env)
  expect(help).toContain('TURN_SECRET (+_FILE)')
})

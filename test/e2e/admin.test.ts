// The admin console in Chromium: suspend, ban, settings, revoke a branch, back up, reports and reset links,
// each leaving its entry in the audit log. Screenshots of every tab on a phone and a desktop.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { poll, TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
let admin: Awaited<ReturnType<typeof signedInClient>>
let page: Page
const people: Record<string, { id: number; client: Client }> = {}

/** Registers `name` with an invite made by `inviter`. */
async function invited(inviter: Client, name: string) {
  const inv = await inviter.post('/api/invites', { uses: 1 })
  const c = new Client(s)
  const r = await c.post('/api/auth/register', { username: name, password: PASSWORD, invite: inv.json.token })
  expect(r.status).toBe(201)
  people[name] = { id: r.json.user.id, client: c }
  return c
}
const auditActions = async () => (await admin.get('/api/admin/audit?limit=200')).json.entries as any[]
const status = (name: string) => s.ctx.accounts.api.byName(name)!.status

beforeAll(async () => {
  s = await startTestServer()
  admin = await signedInClient(s, 'chief', 'admin')
  const ada = await invited(admin, 'ada')
  await invited(admin, 'grace')
  await invited(admin, 'linus')
  const ada1 = await invited(ada, 'ada_one')
  await invited(ada1, 'ada_two')
  await ada.post('/api/invites', { uses: 1 })
  await ada1.post('/api/invites', { uses: 2 })
  if (!hasChromium) return
  browser = await launch()
  page = (await pageFor(browser, s.url, admin.cookie)).page
})
afterAll(async () => {
  await browser?.close()
  await s?.stop()
})

const memberRow = (name: string) => page.locator(`li.member-row[data-username="${name}"]`)

test.skipIf(!hasChromium)(
  '[D14] suspending and banning from the members list signs the member out and is audited',
  async () => {
    await page.goto(s.url + '/admin/members')
    await memberRow('grace').waitFor()
    await page.getByRole('button', { name: 'Suspend @grace' }).click()
    await page.getByRole('textbox', { name: 'Reason (only admins see it)' }).fill('cooling off')
    await page.getByRole('button', { name: 'Confirm suspension' }).click()
    await memberRow('grace').locator('.badge.warn', { hasText: 'suspended' }).waitFor()
    expect(status('grace')).toBe('suspended')
    expect((await people.grace!.client.get('/api/me')).status).toBe(401)
    await page.getByRole('button', { name: 'Ban @linus' }).click()
    await page.getByRole('button', { name: 'Confirm ban' }).click()
    await memberRow('linus').locator('.badge.warn', { hasText: 'banned' }).waitFor()
    expect(status('linus')).toBe('banned')
    await page.getByRole('button', { name: 'Unsuspend @grace' }).click()
    await memberRow('grace').and(page.locator('[data-status="active"]')).waitFor()
    expect(status('grace')).toBe('active')
    // search
    await page.getByRole('searchbox', { name: 'Search members' }).fill('ada')
    const names = async () =>
      (await page.locator('li.member-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-username')))).sort()
    expect(await poll(names, (v) => v.length === 3, 'three results for "ada"')).toEqual(['ada', 'ada_one', 'ada_two'])
    await page.screenshot({ path: `${SHOTS}/admin-e2e-members-phone.png` })
    const entries = await auditActions()
    expect(entries.find((e) => e.action === 'member.suspend' && e.details.username === 'grace')?.details.reason).toBe(
      'cooling off',
    )
    expect(entries.some((e) => e.action === 'member.ban' && e.details.username === 'linus')).toBe(true)
    expect(entries.some((e) => e.action === 'member.unsuspend' && e.details.username === 'grace')).toBe(true)
  },
)

test.skipIf(!hasChromium)(
  '[D14] a password-reset link from the console lets the member choose a new password',
  async () => {
    await page.goto(s.url + '/admin/members')
    await page.getByRole('button', { name: 'Password-reset link for @grace' }).click()
    const url = await page.getByRole('textbox', { name: 'Password-reset link' }).inputValue()
    expect(url).toContain('/reset/')
    const anon = await pageFor(browser, s.url)
    await anon.page.goto(url)
    await anon.page.getByText('for @grace').waitFor()
    await anon.page.getByLabel(/^New password/).fill('graces new password')
    await anon.page.getByLabel('Repeat the new password').fill('graces new password')
    await anon.page.getByRole('button', { name: 'Set password' }).click()
    await anon.page.getByText('Your password is changed').waitFor()
    await anon.context.close()
    expect(
      (await new Client(s).post('/api/auth/login', { username: 'grace', password: 'graces new password' })).status,
    ).toBe(200)
    const acts = (await auditActions()).filter((e) => e.details.username === 'grace').map((e) => e.action)
    expect(acts).toContain('member.reset_link')
    expect(acts).toContain('member.password_reset')
  },
)

test.skipIf(!hasChromium)(
  '[D14] revoking a branch in the drawn tree revokes exactly that branch and can suspend those below',
  async () => {
    await page.goto(s.url + '/admin/tree')
    const tree = page.getByRole('list', { name: 'Invite tree' })
    await tree.locator('li[data-username="ada_two"]').waitFor()
    // drawn as a tree: ada_two sits inside ada_one, inside ada
    expect(
      await tree.locator('li[data-username="ada"] li[data-username="ada_one"] li[data-username="ada_two"]').count(),
    ).toBe(1)
    await page.screenshot({ path: `${SHOTS}/admin-e2e-tree-phone.png` })
    const before = ((await admin.get('/api/invites')).json.invites as any[]).filter((i) => i.state === 'pending')
    await page.getByRole('button', { name: 'Revoke branch of @ada_one' }).click()
    await page.getByRole('checkbox', { name: /Also suspend/ }).check()
    await page.getByRole('button', { name: 'Confirm revoke' }).click()
    await page.getByText(/Revoked 1 invite, suspended 1 member/).waitFor()
    const after = (await admin.get('/api/invites')).json.invites as any[]
    const revoked = after.filter((i) => i.state === 'revoked').map((i) => i.createdBy)
    expect(revoked).toEqual(['ada_one'])
    expect(after.filter((i) => i.state === 'pending').length).toBe(before.length - 1)
    expect([status('ada'), status('ada_one'), status('ada_two')]).toEqual(['active', 'active', 'suspended'])
    expect((await auditActions()).find((e) => e.action === 'invite.revoke_branch')?.details).toMatchObject({
      username: 'ada_one',
      suspended: ['ada_two'],
    })
  },
)

test.skipIf(!hasChromium)('[D14] changing the server settings applies them and is audited', async () => {
  await page.goto(s.url + '/admin/settings')
  const form = page.getByRole('form', { name: 'Server settings' })
  await form.getByLabel('Registration').selectOption('closed')
  await form.getByLabel('Invites for each new member').fill('3')
  await form.getByLabel('Largest video in messages (MB)').fill('80')
  await form.getByRole('switch', { name: 'Guest listening' }).check()
  await form.getByRole('switch', { name: 'Recording' }).uncheck()
  await form.getByLabel('TURN servers').fill('turn:turn.example.org:3478?transport=udp')
  await form.getByRole('button', { name: 'Save settings' }).click()
  await page.getByText('Settings saved').waitFor()
  expect(s.ctx.core.settings.get()).toEqual({
    registration: 'closed',
    inviteQuota: 3,
    guests: true,
    turnUrls: ['turn:turn.example.org:3478?transport=udp'],
    maxVideoMb: 80,
    recording: false,
    replayKeepDays: 0,
  })
  await form.getByLabel('TURN servers').fill('http://not-a-turn-server')
  await form.getByRole('button', { name: 'Save settings' }).click()
  await form.getByRole('alert').waitFor()
  expect(s.ctx.core.settings.get().turnUrls).toEqual(['turn:turn.example.org:3478?transport=udp'])
  const e = (await auditActions()).find((x) => x.action === 'settings.update')
  expect(e.details.registration).toEqual({ from: 'invite', to: 'closed' })
  expect(e.details.guests).toEqual({ from: false, to: true })
})

test.skipIf(!hasChromium)(
  '[D14] a backup made from the console is listed, downloadable and audited; restoring is explained',
  async () => {
    await page.goto(s.url + '/admin/backups')
    // The restore instruction is shown (restoring is done on the server, not from the web).
    await page.getByText('How to restore').click()
    await page.getByText('townhall restore townhall-….tar').waitFor()
    await page.getByRole('button', { name: 'Back up now' }).click()
    const row = page.locator('li.backup-row').first()
    await row.waitFor()
    const name = (await row.locator('.mono').textContent())!
    expect(name).toMatch(/^townhall-.*\.tar$/)
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: `Download ${name}` }).click(),
    ])
    expect(download.suggestedFilename()).toBe(name)
    const acts = (await auditActions()).filter((e) => e.targetId === name).map((e) => e.action)
    expect(acts).toContain('backup.create')
    expect(
      await poll(
        async () => (await auditActions()).filter((e) => e.targetId === name).map((e) => e.action),
        (v) => v.includes('backup.download'),
        'the download in the audit log',
      ),
    ).toContain('backup.download')
  },
)

test.skipIf(!hasChromium)('[D14] a member reports someone; the admin resolves it from the queue', async () => {
  const reporter = await signedInClient(s, 'watcher')
  const r = await pageFor(browser, s.url, reporter.cookie)
  await r.page.goto(s.url + '/u/ada')
  await r.page.getByRole('button', { name: 'Report @ada' }).click()
  await r.page.getByLabel('What is wrong with @ada?').fill('Spams every room with ads')
  await r.page.getByRole('button', { name: 'Send report' }).click()
  await r.page.getByText('The admins will look at it').waitFor()
  await r.context.close()
  await page.goto(s.url + '/admin')
  await page.locator('[data-stat="openReports"] .stat-value', { hasText: '1' }).waitFor()
  await page.goto(s.url + '/admin/reports')
  const item = page.locator('li.report-row').first()
  await item.getByText('Spams every room with ads').waitFor()
  const id = await item.getAttribute('data-id')
  await item.getByRole('button', { name: `Resolve report ${id}` }).click()
  await page.getByText('No open reports').waitFor()
  expect((await auditActions()).some((e) => e.action === 'report.resolve' && e.targetId === id)).toBe(true)
})

test.skipIf(!hasChromium)('[D14] the audit log lists every action above; screenshots of each tab', async () => {
  await page.goto(s.url + '/admin/audit')
  const log = page.getByRole('list', { name: 'Audit log' })
  await log.waitFor()
  const shown = await log.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))
  for (const a of [
    'member.suspend',
    'member.ban',
    'member.unsuspend',
    'member.reset_link',
    'invite.revoke_branch',
    'settings.update',
    'backup.create',
    'backup.download',
    'report.resolve',
  ]) {
    expect(shown).toContain(a)
  }
  await page.getByLabel('Filter the audit log').selectOption('member.')
  const filtered = await poll(
    () => log.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-action')!)),
    (v) => v.length > 0 && v.every((a) => a.startsWith('member.')),
    'the filtered audit log',
  )
  expect(filtered.length).toBeGreaterThan(0)
  expect(filtered.every((a) => a.startsWith('member.'))).toBe(true)
  for (const [vw, tag] of [
    [{ width: 390, height: 844 }, 'phone'],
    [{ width: 1280, height: 860 }, 'desktop'],
  ] as const) {
    await page.setViewportSize(vw)
    for (const tab of ['', 'members', 'tree', 'reports', 'settings', 'backups', 'audit']) {
      await page.goto(s.url + '/admin' + (tab ? '/' + tab : ''))
      await page.locator('.card').first().waitFor()
      await page.waitForFunction(() => !document.querySelector('main')?.textContent?.includes('Loading…'))
      await page.screenshot({ path: `${SHOTS}/admin-${tab || 'dashboard'}-${tag}.png` })
    }
  }
  await page.setViewportSize({ width: 390, height: 844 })
})

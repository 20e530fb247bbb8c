import { Elysia, t } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { limit, requireUser, sessionPlugin } from '../http/session'
import type { PushService } from './service'

const B64 = (min: number, max: number) =>
  t.String({ minLength: min, maxLength: max, pattern: '^[A-Za-z0-9_-]+={0,2}$' })
const SubscribeBody = t.Object({
  endpoint: t.String({ minLength: 10, maxLength: 1000 }),
  expirationTime: t.Optional(t.Union([t.Number(), t.Null()])),
  keys: t.Object({ p256dh: B64(80, 100), auth: B64(16, 32) }),
})
const UnsubscribeBody = t.Object({ endpoint: t.String({ minLength: 10, maxLength: 1000 }) })
const PushSettingsBody = t.Object(
  {
    dm: t.Optional(t.Boolean()),
    room_started: t.Optional(t.Boolean()),
    room_reminder: t.Optional(t.Boolean()),
    speak_invite: t.Optional(t.Boolean()),
    activity: t.Optional(t.Boolean()),
  },
  { minProperties: 1, additionalProperties: false },
)

export const pushRoutes = (deps: { core: Core; accounts: AccountsApi }, push: PushService) =>
  new Elysia({ prefix: '/api/push', tags: ['push'] } as any)
    .use(sessionPlugin(deps))
    .get('/key', () => ({ publicKey: push.keys.publicKey }), {
      detail: { summary: "The server's VAPID public key (applicationServerKey)" },
    })
    .post(
      '/subscribe',
      async ({ viewer, body, request, set }) => {
        const v = requireUser(viewer)
        await push.subscribe(v.user.id, body, request.headers.get('user-agent') ?? '')
        set.status = 201
        return { ok: true }
      },
      { body: SubscribeBody, detail: { summary: "Register this device's push subscription" } },
    )
    .post(
      '/unsubscribe',
      async ({ viewer, body }) => ({ removed: await push.unsubscribe(requireUser(viewer).user.id, body.endpoint) }),
      { body: UnsubscribeBody, detail: { summary: "Remove this device's push subscription" } },
    )
    .get(
      '/settings',
      async ({ viewer }) => {
        const v = requireUser(viewer)
        return { settings: await push.settings(v.user.id), devices: await push.devices(v.user.id) }
      },
      { detail: { summary: 'My notification settings per kind, and my subscribed devices' } },
    )
    .patch(
      '/settings',
      async ({ viewer, body }) => ({ settings: await push.updateSettings(requireUser(viewer).user.id, body) }),
      {
        body: PushSettingsBody,
        detail: { summary: 'Turn kinds of notification on or off' },
      },
    )
    .post(
      '/test',
      async ({ viewer }) => {
        const v = requireUser(viewer)
        limit(push.testLimit, `u${v.user.id}`)
        return { sent: await push.test(v.user.id) }
      },
      { detail: { summary: 'Send a test notification to my devices' } },
    )

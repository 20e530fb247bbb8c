// Member settings: notifications (this device's push subscription, each kind on or off, a test) and reporting.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import {
  disablePush,
  enablePush,
  pushSettings,
  pushState,
  refreshPush,
  sendTestPush,
  updatePushSettings,
  type PushDevice,
  type PushKind,
  type PushSettings,
} from '../app/push'
import { notify, notifyError } from '../app/state'
import { Header } from './ui'

const KINDS: { key: PushKind; label: string; hint: string }[] = [
  { key: 'dm', label: 'Direct messages', hint: 'A new message in a conversation you have not muted' },
  { key: 'room_started', label: 'Rooms from people I follow', hint: 'When someone you follow starts a room' },
  { key: 'room_reminder', label: 'Scheduled rooms', hint: '10 minutes before a room you follow starts' },
  { key: 'speak_invite', label: 'Invitations to speak', hint: 'When a moderator invites you to the stage' },
  {
    key: 'activity',
    label: 'Other activity',
    hint: 'New followers, mentions, message requests, invitations to closed rooms, your reports',
  },
]

const STATE_TEXT: Record<string, string> = {
  unsupported: 'This browser cannot receive notifications. On iPhone, add Townhall to the home screen first.',
  denied: "Notifications are blocked for this site. Allow them in the browser's site settings, then come back.",
  off: 'Notifications are off on this device.',
  on: 'Notifications are on for this device.',
}

export function NotificationSettings() {
  const [settings, setSettings] = useState<PushSettings | null>(null)
  const [devices, setDevices] = useState<PushDevice[]>([])
  const [busy, setBusy] = useState(false)
  const load = () =>
    pushSettings().then((r) => {
      setSettings(r.settings)
      setDevices(r.devices)
    }, notifyError)
  useEffect(() => {
    load()
    void refreshPush().catch(() => {})
  }, [])
  const run = async (fn: () => Promise<unknown>, ok?: string) => {
    setBusy(true)
    try {
      await fn()
      if (ok) notify(ok)
    } catch (e) {
      notifyError(e)
    } finally {
      setBusy(false)
      load()
    }
  }
  const toggle = (key: PushKind, on: boolean) => run(async () => setSettings(await updatePushSettings({ [key]: on })))
  const state = pushState.value
  return html`<${Header} title="Notifications" back="/me" />
  <section class="card stack">
    <h2>This device</h2>
    <p class=${'push-state ' + state} role="status">${STATE_TEXT[state]}</p>
    <div class="row gap wrap">
      ${
        state === 'on'
          ? html`<button class="btn" disabled=${busy}
                 onClick=${() => run(disablePush, 'Notifications turned off on this device')}>
                 Turn off on this device
               </button>
               <button class="btn" disabled=${busy} onClick=${() =>
                 run(async () => {
                   if (!(await sendTestPush())) throw new Error('No device received it.')
                 }, 'Test notification sent')}>Send a test</button>`
          : html`<button class="btn primary" disabled=${busy || state === 'unsupported' || state === 'denied'}
                 onClick=${() => run(enablePush)}>Turn on notifications</button>`
      }
    </div>
    ${
      devices.length > 0 &&
      html`<p class="muted small">
        ${devices.length} device${devices.length === 1 ? '' : 's'} subscribed to your notifications.
      </p>`
    }
  </section>
  <section class="card">
    <h2>Notify me about</h2>
    ${
      settings === null
        ? html`<p class="muted">Loading…</p>`
        : html`<ul class="list">
      ${KINDS.map(
        (k) => html`<li class="list-item">
        <label class="switch-row grow" for=${'push-' + k.key}>
          <span class="grow"><strong>${k.label}</strong><br /><span class="muted small">${k.hint}</span></span>
          <input id=${'push-' + k.key} type="checkbox" role="switch" class="switch" checked=${settings[k.key]}
            disabled=${busy}
            onChange=${(e: any) => toggle(k.key, e.target.checked)} />
        </label>
      </li>`,
      )}</ul>`
    }
  </section>`
}

// Dashboard: the numbers an admin looks at first; refreshed every 15 seconds while open.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { stats as fetchStats, type AdminStats } from '../../app/admin'
import { errorText } from '../../app/state'

const TILES: { key: keyof AdminStats; label: string; href?: string }[] = [
  { key: 'members', label: 'Members', href: '/admin/members' },
  { key: 'liveRooms', label: 'Live rooms', href: '/' },
  { key: 'inRooms', label: 'People in rooms now' },
  { key: 'messagesToday', label: 'Messages today' },
  { key: 'online', label: 'Online now' },
  { key: 'openReports', label: 'Open reports', href: '/admin/reports' },
]

export function Dashboard() {
  const [stats, setStats] = useState<AdminStats | null>(null)
  const [err, setErr] = useState('')
  useEffect(() => {
    const load = () =>
      fetchStats().then(
        (s) => {
          setStats(s)
          setErr('')
        },
        (e) => setErr(errorText(e)),
      )
    load()
    const t = setInterval(load, 15_000)
    return () => clearInterval(t)
  }, [])
  return html`<section class="card" aria-labelledby="dash-h">
    <h2 id="dash-h">Now</h2>
    ${err && html`<p class="form-error">${err}</p>`}
    <div class="stat-grid">
      ${TILES.map((t) => {
        const body = html`<span class="stat-value">${stats ? (stats[t.key] ?? 0).toLocaleString() : '…'}</span>
          <span class="stat-label">${t.label}</span>`
        return t.href
          ? html`<a class=${'stat' + (t.key === 'openReports' && stats?.openReports ? ' alert' : '')} href=${t.href}
              data-stat=${t.key}>${body}</a>`
          : html`<div class="stat" data-stat=${t.key}>${body}</div>`
      })}
    </div>
    ${
      stats &&
      html`<p class="muted small">
        ${stats.joinedToday} joined today · ${stats.suspended} suspended · ${stats.banned} banned ·${' '}
        ${stats.admins} admin${stats.admins === 1 ? '' : 's'}
      </p>`
    }
  </section>`
}

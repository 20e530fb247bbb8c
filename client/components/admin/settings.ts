// Server settings: who may sign up, how many invites new members get, guest listening, recording, TURN servers, the
// largest video a member may send in Backchannel.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { settings, updateSettings, type Settings } from '../../app/admin'
import { errorText, notify, notifyError } from '../../app/state'
import { ErrorLine, Field } from '../ui'

export function ServerSettings() {
  const [s, setS] = useState<Settings | null>(null)
  const [turn, setTurn] = useState('')
  const [err, setErr] = useState('')
  useEffect(() => {
    settings().then((v) => {
      setS(v)
      setTurn(v.turnUrls.join('\n'))
    }, notifyError)
  }, [])
  if (!s) return html`<section class="card"><p class="muted">Loading…</p></section>`
  const save = async (e: Event) => {
    e.preventDefault()
    setErr('')
    try {
      const turnUrls = turn
        .split(/[\n,]/)
        .map((x) => x.trim())
        .filter(Boolean)
      const v = await updateSettings({
        registration: s.registration,
        inviteQuota: Number(s.inviteQuota),
        guests: s.guests,
        recording: s.recording,
        maxVideoMb: Number(s.maxVideoMb),
        turnUrls,
      })
      setS(v)
      setTurn(v.turnUrls.join('\n'))
      notify('Settings saved')
    } catch (x) {
      setErr(errorText(x))
    }
  }
  return html`<form class="card stack" onSubmit=${save} aria-label="Server settings">
    <h2>Server settings</h2>
    <${Field} label="Registration"
      hint="Invite: new members need an invite link. Open: anyone can sign up. Closed: nobody can.">
      <select value=${s.registration} onChange=${(e: any) => setS({ ...s, registration: e.target.value })}>
        <option value="invite">Invite only</option><option value="open">Open</option>
        <option value="closed">Closed</option>
      </select></${Field}>
    <${Field} label="Invites for each new member" hint="Admins have no limit.">
      <input type="number" min="0" max="1000" required value=${s.inviteQuota}
        onInput=${(e: any) => setS({ ...s, inviteQuota: e.target.value })} /></${Field}>
    <${Field} label="Largest video in messages (MB)" hint="Videos members send in Backchannel. 50 MB by default.">
      <input type="number" min="1" max="2048" required value=${s.maxVideoMb}
        onInput=${(e: any) => setS({ ...s, maxVideoMb: e.target.value })} /></${Field}>
    <label class="row gap center switch-row">
      <input type="checkbox" role="switch" class="switch" checked=${s.guests}
        onChange=${(e: any) => setS({ ...s, guests: e.target.checked })} />
      <span><strong>Guest listening</strong><br />
        <span class="muted small">Signed-out visitors may listen to open rooms</span></span></label>
    <label class="row gap center switch-row">
      <input type="checkbox" role="switch" class="switch" checked=${s.recording} aria-label="Recording"
        onChange=${(e: any) => setS({ ...s, recording: e.target.checked })} />
      <span><strong>Recording</strong><br />
        <span class="muted small">Hosts may record rooms as replays (each speaker still chooses whether they are
          in it). Turning this off stops every recording in progress.</span></span></label>
    <${Field} label="TURN servers"
      hint="One per line, e.g. turn:turn.example.org:3478?transport=udp. Helps members behind strict networks connect.">
      <textarea rows="3" value=${turn} onInput=${(e: any) => setTurn(e.target.value)}
        placeholder="turn:turn.example.org:3478?transport=udp"></textarea></${Field}>
    <${ErrorLine} error=${err} />
    <button class="btn primary" type="submit">Save settings</button>
  </form>`
}

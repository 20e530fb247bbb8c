// Replays: the list with the private podcast feed (`/replays`), a replay's page with its player, chapters, and the
// room's chat and Q&A following the playback (`/replays/<id>`), cutting a clip, and the admin's tab. Loaded on first
// use (its own chunk).
import { html } from 'htm/preact'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { Message, Question } from '../../../server/protocol'
import * as R from '../../app/replays'
import { errorText, notify, notifyError } from '../../app/state'
import { Avatar, Empty, Header, timeAgo } from '../ui'
import { localTime } from '../rooms/rsvp'

const names = (list: { displayName: string }[]) =>
  list.length <= 1
    ? (list[0]?.displayName ?? '')
    : `${list
        .slice(0, -1)
        .map((u) => u.displayName)
        .join(', ')} and ${list[list.length - 1]!.displayName}`

const leftOutLine = (n: number) =>
  n ? html`<p class="muted small replay-leftout">${n} speaker${n === 1 ? '' : 's'} chose not to be recorded.</p>` : null

const stateLine = (r: R.ReplaySummary) =>
  r.state === 'ready'
    ? `${R.clock(r.durationMs)} · ${localTime(r.readyAt ?? r.createdAt)}`
    : r.state === 'failed'
      ? 'The mix failed'
      : r.progress !== null && r.state === 'mixing'
        ? `Mixing… ${Math.round(r.progress * 100)}%`
        : 'Being prepared…'

// ── the list and the feed ──

function FeedCard() {
  const [createdAt, setCreatedAt] = useState<number | null | undefined>(undefined)
  const [url, setUrl] = useState<string | null>(R.rememberedFeed())
  useEffect(() => {
    R.feedState()
      .then((c) => {
        setCreatedAt(c)
        if (c === null) setUrl(null)
      })
      .catch(notifyError)
  }, [])
  const renew = async () => {
    if (createdAt && !confirm('Make a new address? Podcast apps using the old one stop getting replays.')) return
    try {
      setUrl(await R.newFeed())
      setCreatedAt(Date.now())
    } catch (e) {
      notifyError(e)
    }
  }
  const remove = async () => {
    if (!confirm('Remove your feed? Podcast apps using it stop getting replays.')) return
    try {
      await R.removeFeed()
      setUrl(null)
      setCreatedAt(null)
    } catch (e) {
      notifyError(e)
    }
  }
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url!)
      notify('Feed address copied')
    } catch {
      notify('Select the address and copy it', 'error')
    }
  }
  return html`<section class="card feed-card" aria-labelledby="feed-h">
    <h2 id="feed-h" class="section-title">Your private podcast feed</h2>
    <p class="small muted">Subscribe in any podcast app to get every replay you may hear. The address is yours alone:
      do not share it.</p>
    ${
      url
        ? html`<div class="feed-url row gap">
            <input class="input" readonly value=${url} aria-label="Feed address" onFocus=${(e: Event) =>
              (e.target as HTMLInputElement).select()} />
            <button class="btn primary" onClick=${copy}>Copy</button>
          </div>`
        : createdAt
          ? html`<p class="small">You made a feed ${timeAgo(createdAt)}; its address was shown on the device you made
              it on. Lost it? Make a new one.</p>`
          : null
    }
    <div class="row gap wrap">
      <button class=${'btn' + (url ? '' : ' primary')} onClick=${renew}>
        ${createdAt ? 'New address' : 'Make my feed'}</button>
      ${createdAt && html`<button class="btn danger-text" onClick=${remove}>Remove feed</button>`}
    </div>
  </section>`
}

export function ReplaysScreen() {
  const [list, setList] = useState<R.ReplaySummary[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    R.listReplays()
      .then(setList)
      .catch((e) => setError(errorText(e)))
  }, [])
  return html`<${Header} title="Replays" back="/" />
    <div class="replays-screen">
      <section class="card" aria-labelledby="replays-h">
        <h2 id="replays-h" class="section-title">Recorded rooms</h2>
        ${error && html`<p class="form-error">${error}</p>`}
        ${!list && !error && html`<p class="muted" aria-busy="true">Loading…</p>`}
        ${
          list?.length === 0 &&
          html`<${Empty}>No replays yet. Rooms recorded with their speakers' consent show here.</${Empty}>`
        }
        <ul class="replay-list">
          ${list?.map(
            (r) => html`<li><a class="replay-item" href=${`/replays/${r.id}`}>
              <span class="replay-item-title">${r.title}</span>
              <span class="small muted">${stateLine(r)}</span>
              ${r.speakers.length > 0 && html`<span class="small">With ${names(r.speakers)}</span>`}
            </a></li>`,
          )}
        </ul>
      </section>
      <${FeedCard} />
    </div>`
}

// ── a replay ──

type Talk = { at: number; kind: 'chat' | 'question'; who: string; body: string; id: string }

function useTalk(roomId: number | null) {
  const [talk, setTalk] = useState<Talk[] | null>(null)
  const [note, setNote] = useState<string | null>(null)
  useEffect(() => {
    if (roomId === null) return
    R.roomTalk(roomId)
      .then(({ messages, questions }) => {
        const chat = messages.map((m: Message) => ({
          at: m.createdAt,
          kind: 'chat' as const,
          who: m.author?.displayName ?? 'Deleted member',
          body: m.body || (m.image || m.media ? '(an attachment)' : ''),
          id: `m${m.id}`,
        }))
        const qa = questions.map((q: Question) => ({
          at: q.stagedAt ?? q.createdAt,
          kind: 'question' as const,
          who: q.author?.displayName ?? 'Someone',
          body: q.body,
          id: `q${q.id}`,
        }))
        setTalk([...chat, ...qa].sort((a, b) => a.at - b.at))
      })
      .catch((e) =>
        setNote(
          R.errorCode(e) === 'room_chat_unreadable'
            ? 'The chat and Q&A are kept for those who were in the room.'
            : errorText(e),
        ),
      )
  }, [roomId])
  return { talk, note }
}

function ClipSheet({ r, at, onDone }: { r: R.ReplayDetail; at: number; onDone: (c: R.Clip | null) => void }) {
  const [start, setStart] = useState(Math.max(0, Math.floor(at / 1000)))
  const [length, setLength] = useState(Math.min(30, Math.max(1, Math.floor((r.durationMs - at) / 1000))))
  const [title, setTitle] = useState('')
  const [busy, setBusy] = useState(false)
  const maxStart = Math.max(0, Math.floor(r.durationMs / 1000) - 1)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    try {
      const len = Math.min(length, Math.floor(r.durationMs / 1000) - start)
      onDone(await R.cutClip(r.id, start * 1000, Math.max(1, len) * 1000, title || undefined))
    } catch (err) {
      notifyError(err)
    } finally {
      setBusy(false)
    }
  }
  return html`<form class="card clip-form" onSubmit=${submit} aria-label="Cut a clip">
    <h2 class="section-title">Cut a clip</h2>
    <label class="field"><span class="field-label">Starts at ${R.clock(start * 1000)}</span>
      <input type="range" min="0" max=${maxStart} step="1" value=${start}
        onInput=${(e: Event) => setStart(Number((e.target as HTMLInputElement).value))} /></label>
    <label class="field"><span class="field-label">Length: ${length} s (up to 60)</span>
      <input type="range" min="1" max="60" step="1" value=${length}
        onInput=${(e: Event) => setLength(Number((e.target as HTMLInputElement).value))} /></label>
    <label class="field"><span class="field-label">Title (optional)</span>
      <input class="input" maxLength="120" value=${title} placeholder=${r.title}
        onInput=${(e: Event) => setTitle((e.target as HTMLInputElement).value)} /></label>
    <div class="row gap">
      <button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Cutting…' : 'Make the clip'}</button>
      <button class="btn" type="button" onClick=${() => onDone(null)}>Cancel</button>
    </div>
  </form>`
}

export function ReplayScreen({ id }: { id: string }) {
  const replayId = Number(id)
  const [r, setR] = useState<R.ReplayDetail | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [ms, setMs] = useState(0)
  const [playing, setPlaying] = useState(false)
  const [speed, setSpeed] = useState(1)
  const [cutting, setCutting] = useState(false)
  const audio = useRef<HTMLAudioElement>(null)
  const talkList = useRef<HTMLOListElement>(null)
  const load = () =>
    R.loadReplay(replayId)
      .then(setR)
      .catch((e) =>
        setError(R.errorCode(e) === 'not_found' ? 'This replay is not there, or you may not hear it.' : errorText(e)),
      )
  useEffect(() => {
    void load()
  }, [replayId])
  // The host watches the mix's progress.
  useEffect(() => {
    if (!r || r.state === 'ready' || r.state === 'failed') return
    const t = setInterval(() => void load(), 3000)
    return () => clearInterval(t)
  }, [r?.state])
  const { talk, note } = useTalk(r?.roomId ?? null)
  const chapterIndex = r ? R.chapterAt(r.chapters, ms) : -1
  const chapter = r?.chapters[chapterIndex] ?? null
  const wallNow = r ? R.wallTimeOf(r.timeline, ms) : null
  const said = useMemo(
    () => (talk && wallNow !== null ? talk.filter((t) => t.at <= wallNow).length : 0),
    [talk, wallNow],
  )
  useEffect(() => {
    const list = talkList.current
    const last = list?.children[said - 1] as HTMLElement | undefined
    if (list && last) list.scrollTop = last.offsetTop - list.offsetTop - list.clientHeight + last.clientHeight + 8
  }, [said])
  const seek = (toMs: number) => {
    const a = audio.current
    if (!a) return
    a.currentTime = toMs / 1000
    setMs(toMs)
    if (a.paused) void a.play().catch(() => {})
  }
  const skip = () => {
    const next = r && R.nextSpeaker(r.chapters, ms)
    if (next) seek(next.startMs)
  }
  useEffect(() => {
    const a = audio.current
    if (!a || !r || !playing) return
    return R.mediaSession({ title: r.title, speaker: chapter?.title ?? null }, a, skip)
  }, [playing, chapter?.title, r])
  useEffect(() => {
    if (audio.current) audio.current.playbackRate = speed
  }, [speed])

  if (error) return html`<${Header} title="Replay" back="/replays" /><${Empty}>${error}</${Empty}>`
  if (!r) return html`<${Header} title="Replay" back="/replays" /><p class="muted pad" aria-busy="true">Loading…</p>`
  const remove = async () => {
    if (!confirm('Delete this replay and its clips for everyone?')) return
    try {
      await R.deleteReplay(r.id)
      notify('Replay deleted')
      history.back()
    } catch (e) {
      notifyError(e)
    }
  }
  const leave = async () => {
    if (!confirm('Withdraw your voice? The replay is mixed again without you, and clips with you are removed.')) return
    try {
      await R.withdraw(r.id)
      notify('You are left out of this replay')
      void load()
    } catch (e) {
      notifyError(e)
    }
  }
  const retry = async () => {
    try {
      await R.retryMix(r.id)
      notify('The replay is being mixed again')
      void load()
    } catch (e) {
      notifyError(e)
    }
  }
  const ready = r.state === 'ready'
  return html`<${Header} title="Replay" back="/replays" />
    <div class="replay-page">
      <section class="card replay-head" aria-labelledby="replay-h">
        <h2 id="replay-h" class="replay-title">${r.title}</h2>
        <p class="small muted">${localTime(r.createdAt)}${ready ? ` · ${R.clock(r.durationMs)}` : ''}
          ${r.host && html` · hosted by <a href=${`/u/${r.host.username}`}>${r.host.displayName}</a>`}${' · '}<a
            href=${`/rooms/${r.roomId}`}>the room</a></p>
        ${
          r.speakers.length > 0 &&
          html`<ul class="replay-speakers" aria-label="Speakers">${r.speakers.map(
            (u) => html`<li class=${chapter?.userId === u.id ? 'speaking' : ''}>
              <${Avatar} user=${u} size=${36} ring=${chapter?.userId === u.id} /><span>${u.displayName}</span></li>`,
          )}</ul>`
        }
        ${leftOutLine(r.leftOut)}
        ${
          !ready &&
          html`<p class="banner" role="status">${stateLine(r)}${
            r.progress !== null && r.state === 'mixing'
              ? html`<progress max="1" value=${r.progress} aria-label="Mix progress"></progress>`
              : null
          }${r.error ? ` — ${r.error}` : ''}</p>`
        }
        ${
          ready &&
          html`<div class="player">
            <audio ref=${audio} src=${R.audioUrl(r.id)} preload="metadata" controls
              onTimeUpdate=${(e: Event) => setMs(Math.round((e.target as HTMLAudioElement).currentTime * 1000))}
              onPlay=${() => setPlaying(true)} onPause=${() => setPlaying(false)}
              onRateChange=${(e: Event) => setSpeed((e.target as HTMLAudioElement).playbackRate)}></audio>
            <div class="row gap wrap center player-actions">
              <button class="btn small" onClick=${skip} disabled=${!R.nextSpeaker(r.chapters, ms)}>
                Next speaker ⏭</button>
              <label class="speed small">Speed
                <select value=${String(speed)}
                  onChange=${(e: Event) => setSpeed(Number((e.target as HTMLSelectElement).value))}>
                  ${[1, 1.25, 1.5, 1.75, 2].map((s) => html`<option value=${String(s)}>${s}×</option>`)}
                </select></label>
              <button class="btn small" onClick=${() => setCutting(!cutting)} aria-expanded=${cutting}>Clip</button>
              <a class="btn small" href=${R.downloadUrl(r.id)} download>Download</a>
            </div>
          </div>`
        }
        <div class="row gap wrap">
          ${r.mayWithdraw && html`<button class="btn small danger-text" onClick=${leave}>Withdraw my voice</button>`}
          ${r.withdrawn && html`<span class="small muted">You withdrew from this replay.</span>`}
          ${
            r.mayDelete &&
            r.state === 'failed' &&
            html`<button class="btn small" onClick=${retry}>Try the mix again</button>`
          }
          ${r.mayDelete && html`<button class="btn small danger-text" onClick=${remove}>Delete replay</button>`}
        </div>
      </section>
      ${
        cutting &&
        html`<${ClipSheet} r=${r} at=${ms} onDone=${(c: R.Clip | null) => {
          setCutting(false)
          if (c) {
            notify('Clip made')
            void load()
          }
        }} />`
      }
      <div class="replay-columns">
        ${
          r.chapters.length > 0 &&
          html`<section class="card" aria-labelledby="chapters-h">
            <h2 id="chapters-h" class="section-title">Chapters</h2>
            <ol class="chapters">${r.chapters.map(
              (c, i) => html`<li><button class=${'chapter' + (i === chapterIndex ? ' current' : '')}
                aria-current=${i === chapterIndex ? 'true' : undefined} disabled=${!ready}
                onClick=${() => seek(c.startMs)}>
                <span class="chapter-time">${R.clock(c.startMs)}</span>
                <span class="chapter-title">${c.kind === 'question' ? '❓ ' : ''}${c.title}</span></button></li>`,
            )}</ol>
          </section>`
        }
        <section class="card replay-talk" aria-labelledby="talk-h">
          <h2 id="talk-h" class="section-title">Chat and Q&A</h2>
          ${note && html`<p class="small muted">${note}</p>`}
          ${talk?.length === 0 && html`<p class="small muted">Nothing was written in this room.</p>`}
          <ol class="talk" ref=${talkList} aria-live="off">
            ${talk?.map((t, i) => {
              const at = R.replayTimeOf(r.timeline, t.at)
              return html`<li class=${'talk-line ' + t.kind + (i < said ? ' said' : ' later')}>
                <button class="talk-time small" disabled=${!ready || at === null}
                  onClick=${() => at !== null && seek(at)}>${at === null ? '' : R.clock(at)}</button>
                <span><strong>${t.who}</strong>${t.kind === 'question' ? ' asked' : ''}: ${t.body}</span></li>`
            })}
          </ol>
        </section>
      </div>
      ${
        r.clips.length > 0 &&
        html`<section class="card" aria-labelledby="clips-h">
          <h2 id="clips-h" class="section-title">Clips</h2>
          <ul class="clip-list">${r.clips.map(
            (c) => html`<li><a href=${c.url} target="_blank" rel="noopener">${c.title}</a>
              <span class="small muted"> · ${R.clock(c.startMs)} · ${Math.round(c.durationMs / 1000)} s${
                c.speakers.length ? ` · ${names(c.speakers)}` : ''
              }</span></li>`,
          )}</ul>
        </section>`
      }
    </div>`
}

// ── the admin's tab ──

const size = (bytes: number) =>
  bytes >= 1e9
    ? `${(bytes / 1e9).toFixed(1)} GB`
    : bytes >= 1e6
      ? `${(bytes / 1e6).toFixed(1)} MB`
      : `${Math.round(bytes / 1e3)} kB`

export function AdminReplays() {
  const [data, setData] = useState<R.ReplayAdmin | null>(null)
  const [days, setDays] = useState('0')
  useEffect(() => {
    R.adminReplays()
      .then((d) => {
        setData(d)
        setDays(String(d.keepDays))
      })
      .catch(notifyError)
  }, [])
  if (!data) return html`<p class="muted pad" aria-busy="true">Loading…</p>`
  const save = async (e: Event) => {
    e.preventDefault()
    try {
      const d = await R.setKeepDays(Number(days))
      setData(d)
      notify('Saved')
    } catch (err) {
      notifyError(err)
    }
  }
  const remove = async (id: number) => {
    if (!confirm('Delete this replay and its clips?')) return
    try {
      await R.deleteReplay(id)
      setData(await R.adminReplays())
    } catch (err) {
      notifyError(err)
    }
  }
  const d = data.disk
  return html`<section class="card" aria-labelledby="keep-h">
      <h2 id="keep-h" class="section-title">Keeping replays</h2>
      <form class="row gap wrap keep-form" onSubmit=${save}>
        <label class="field"><span class="field-label">Keep replays for (days; 0 = forever)</span>
          <input class="input" type="number" min="0" max="36500" step="1" value=${days}
            onInput=${(e: Event) => setDays((e.target as HTMLInputElement).value)} /></label>
        <button class="btn primary" type="submit">Save</button>
      </form>
      <dl class="recap-facts">
        <div><dt>Replays</dt><dd>${size(d.replays.bytes)} (${d.replays.n})</dd></div>
        <div><dt>Clips</dt><dd>${size(d.clips.bytes)} (${d.clips.n})</dd></div>
        <div><dt>Recordings</dt><dd>${size(d.recordings.bytes)} (${d.recordings.n} tracks)</dd></div>
      </dl>
    </section>
    <section class="card" aria-labelledby="all-h">
      <h2 id="all-h" class="section-title">Every replay</h2>
      ${data.replays.length === 0 && html`<p class="muted small">No replays.</p>`}
      <ul class="replay-list">${data.replays.map(
        (r) => html`<li class="row gap center admin-replay">
          <a href=${`/replays/${r.id}`}>${r.title}</a>
          <span class="small muted">${`${r.state} · ${size(r.bytes + r.clips)} · `}${new Date(
            r.createdAt,
          ).toLocaleDateString()}</span>
          <button class="btn small danger-text" onClick=${() => remove(r.id)}>Delete</button></li>`,
      )}</ul>
    </section>`
}

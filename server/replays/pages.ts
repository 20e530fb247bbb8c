// Replays outside the API: a member's private podcast feed (`/feed/<secret>.rss`) with its enclosures and chapters
// (`/feed/<secret>/<replayId>.opus|.json`: podcast apps send no cookie, the secret is the key), and a clip's share
// page (`/clips/<slug>`, server-rendered with Open Graph tags and an audio player) and audio (`/clips/<slug>.opus`).
import { Elysia } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { sessionPlugin } from '../http/session'
import { SECURITY_HEADERS } from '../http/static'
import { podcastFeed } from './feed'
import type { ReplayLibrary } from './library'
import { fileResponse, notFoundResponse } from './range'
import { downloadName } from './routes'
import { clipSpeakers, leftOutOf, speakersOf } from './store'

const SECRET = '[A-Za-z0-9_-]{16,64}'
const SLUG = '[A-Za-z0-9_-]{8,32}'

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const clock = (ms: number) => {
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0')
  return `${h ? `${h}:` : ''}${mm}:${String(s % 60).padStart(2, '0')}`
}

const names = (list: string[]) =>
  list.length <= 1 ? (list[0] ?? '') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`

/** [RP57] The clip's page: its own HTML (no app script needed), the card tags, a player, the speakers named. */
function clipPage(p: {
  title: string
  roomTitle: string
  speakers: string[]
  durationMs: number
  startMs: number
  pageUrl: string
  audioUrl: string
  replayUrl: string
  image: string
}) {
  const speakers = names(p.speakers)
  const who = speakers ? `With ${speakers}` : 'A clip'
  const description = `${who} · ${clock(p.durationMs)} from “${p.roomTitle}” on Townhall`
  const t = escapeHtml(p.title)
  const d = escapeHtml(description)
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${t} · Townhall</title>
  <meta name="description" content="${d}">
  <meta name="theme-color" content="#1f2430">
  <link rel="icon" href="/icons/icon-192.png" type="image/png">
  <meta property="og:type" content="music.song">
  <meta property="og:site_name" content="Townhall">
  <meta property="og:title" content="${t}">
  <meta property="og:description" content="${d}">
  <meta property="og:url" content="${escapeHtml(p.pageUrl)}">
  <meta property="og:image" content="${escapeHtml(p.image)}">
  <meta property="og:audio" content="${escapeHtml(p.audioUrl)}">
  <meta property="og:audio:type" content="audio/ogg">
  <meta name="twitter:card" content="summary">
  <meta name="twitter:title" content="${t}">
  <meta name="twitter:description" content="${d}">
  <style>
    :root { color-scheme: light dark; --bg: #f7f7fb; --card: #fff; --ink: #1c1b29; --muted: #6b6a80; --accent: #4f46e5 }
    @media (prefers-color-scheme: dark) { :root { --bg: #121220; --card: #1c1c2e; --ink: #ecebf5; --muted: #a09fb5 } }
    * { box-sizing: border-box }
    body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--ink);
      font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; padding: 24px 16px }
    main { width: 100%; max-width: 520px; background: var(--card); border-radius: 18px; padding: 28px 24px;
      box-shadow: 0 6px 30px rgb(0 0 0 / .08) }
    .brand { display: flex; align-items: center; gap: 10px; color: var(--muted); font-size: 14px; margin-bottom: 18px }
    .brand img { width: 28px; height: 28px; border-radius: 8px }
    h1 { font-size: 24px; line-height: 1.25; margin: 0 0 6px; overflow-wrap: anywhere }
    p { margin: 0 0 18px; color: var(--muted); overflow-wrap: anywhere }
    audio { width: 100%; margin: 6px 0 20px }
    a.button { display: inline-block; background: var(--accent); color: #fff; text-decoration: none;
      padding: 10px 18px; border-radius: 999px; font-weight: 600 }
    .from { font-size: 14px }
  </style>
</head>
<body>
  <main>
    <div class="brand"><img src="/icons/icon-192.png" alt=""> Townhall · clip</div>
    <h1>${t}</h1>
    <p>${d}</p>
    <audio controls preload="metadata" src="${escapeHtml(new URL(p.audioUrl).pathname)}"></audio>
    <p class="from">From ${clock(p.startMs)} of the replay of “${escapeHtml(p.roomTitle)}”.</p>
    <a class="button" href="${escapeHtml(new URL(p.replayUrl).pathname)}">Open the replay</a>
  </main>
</body>
</html>`
}

export const replayPages = (deps: { core: Core; accounts: AccountsApi }, lib: ReplayLibrary) => {
  const { core } = deps
  return new Elysia({ tags: ['replays'] } as any)
    .use(sessionPlugin(deps))
    .get(
      '/feed/:key',
      async ({ params }) => {
        const m = new RegExp(`^(${SECRET})\\.rss$`).exec(params.key)
        const userId = m ? await lib.feedOwner(m[1]!) : null
        if (userId === null) return notFoundResponse()
        const secret = m![1]!
        const owner = deps.accounts.byId(userId)!
        const origin = core.origin()
        const items = (await lib.feedItems(userId)).map((r) => {
          const speakers = names(lib.speakerNames(speakersOf(r)))
          const left = leftOutOf(r).length
          const description = [
            speakers && `With ${speakers}.`,
            left ? `${left} speaker${left === 1 ? '' : 's'} chose not to be recorded.` : '',
            `Recorded on Townhall.`,
          ]
          return {
            id: r.id,
            title: lib.title(r),
            description: description.filter(Boolean).join(' '),
            link: `${origin}/replays/${r.id}`,
            audioUrl: `${origin}/feed/${secret}/${r.id}.opus`,
            chaptersUrl: `${origin}/feed/${secret}/${r.id}.json`,
            bytes: r.bytes,
            durationMs: r.duration_ms,
            publishedAt: r.ready_at ?? r.created_at,
          }
        })
        const body = podcastFeed({
          title: `Townhall replays · ${owner.displayName}`,
          description: `The replays of rooms on ${new URL(origin).host} that ${owner.displayName} may hear.`,
          origin,
          owner: 'Townhall',
          items,
        })
        return new Response(body, {
          headers: {
            'content-type': 'application/rss+xml; charset=utf-8',
            'cache-control': 'private, no-cache',
            'x-content-type-options': 'nosniff',
            'x-robots-tag': 'noindex',
          },
        })
      },
      { detail: { summary: "A member's private podcast feed (RSS 2.0, iTunes and Podcasting 2.0)" } },
    )
    .get(
      '/feed/:key/:file',
      async ({ params, request }) => {
        const ok = new RegExp(`^${SECRET}$`).test(params.key)
        const m = /^([1-9]\d{0,15})\.(opus|json)$/.exec(params.file)
        const userId = ok && m ? await lib.feedOwner(params.key) : null
        if (userId === null) return notFoundResponse()
        const r = await lib.store.byId(Number(m![1]))
        // [RP53] The same check as every other path: a replay the member may not see is not there.
        if (r?.state !== 'ready' || !r.path || !lib.maySee(r, userId)) return notFoundResponse()
        if (m![2] === 'json')
          return Response.json(lib.jsonChapters(r), {
            headers: { 'content-type': 'application/json+chapters', 'cache-control': 'private, no-cache' },
          })
        return fileResponse(request, lib.file(r.path), {
          type: 'audio/ogg',
          download: downloadName(lib.title(r), r.id),
        })
      },
      { detail: { summary: "A feed item's enclosure (Range requests) or its JSON chapters" } },
    )
    .get(
      '/clips/:file',
      async ({ params, request, viewer }) => {
        const m = new RegExp(`^(${SLUG})(\\.opus)?$`).exec(params.file)
        const found = m ? await lib.clip(m[1]!, viewer?.user.id ?? null) : null
        if (!found) {
          if (m?.[2]) return notFoundResponse()
          return new Response(
            '<!doctype html><meta charset="utf-8"><title>Not found · Townhall</title>' +
              '<p>This clip is not there, or you may not hear it. <a href="/">Townhall</a></p>',
            { status: 404, headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS } },
          )
        }
        const { clip, replay, room } = found
        if (m![2]) return fileResponse(request, lib.file(clip.path!), { type: 'audio/ogg' })
        const origin = core.origin()
        const html = clipPage({
          title: clip.title,
          roomTitle: room?.title ?? clip.title,
          speakers: lib.speakerNames(clipSpeakers(clip)),
          durationMs: clip.duration_ms,
          startMs: clip.start_ms,
          pageUrl: `${origin}/clips/${clip.slug}`,
          audioUrl: `${origin}/clips/${clip.slug}.opus`,
          replayUrl: `${origin}/replays/${replay.id}`,
          image: `${origin}/icons/icon-512.png`,
        })
        return new Response(html, {
          headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, 'cache-control': 'no-cache' },
        })
      },
      { detail: { summary: "A clip's share page (Open Graph) or its audio (/clips/<slug>.opus)" } },
    )
}

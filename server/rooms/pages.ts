// Rooms outside the API: the app's page for `/rooms/<id>` with Open Graph and Twitter card tags (an open room
// unfurls with its title, hosts, time and description; any other room, or none, gets a generic card that reveals
// nothing), a room's `.ics` (`/rooms/<id>.ics`) and a member's private calendar feed (`/calendar/<secret>.ics`).
import { Elysia } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { errorBody } from '../errors'
import { sessionPlugin } from '../http/session'
import { clientFiles, SECURITY_HEADERS } from '../http/static'
import { icsCalendar } from './ics'
import type { RoomRow } from './model'
import { utcTime } from './schedule'
import type { RoomsService } from './service'

const DESCRIPTION_MAX = 200

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1).trimEnd() + '…' : s)

/** What an unfurl shows of a room: everything for an open room, nothing for any other (or an unknown one). */
function cardOf(rooms: RoomsService, room: RoomRow | null) {
  if (room?.kind !== 'open')
    return { title: 'A room on Townhall', description: 'Sign in to Townhall to see this room.', open: false }
  const hosts = rooms.schedule
    .hosts(room)
    .map((h) => h.displayName)
    .join(', ')
  const when = room.cancelled
    ? 'Cancelled'
    : room.state === 'live'
      ? 'Live now'
      : room.state === 'ended'
        ? `Ended ${utcTime(room.ended_at ?? room.created_at)}`
        : utcTime(room.starts_at!)
  const parts = [when, hosts && `Hosted by ${hosts}`, room.description && clip(room.description, DESCRIPTION_MAX)]
  return { title: room.title, description: parts.filter(Boolean).join(' · '), open: true }
}

/** The app's index.html with the card's tags (any earlier title and description replaced). */
function withCard(index: string, card: { title: string; description: string }, url: string, image: string) {
  const t = escapeHtml(card.title)
  const d = escapeHtml(card.description)
  const meta = [
    `<meta property="og:type" content="website">`,
    `<meta property="og:site_name" content="Townhall">`,
    `<meta property="og:title" content="${t}">`,
    `<meta property="og:description" content="${d}">`,
    `<meta property="og:url" content="${escapeHtml(url)}">`,
    `<meta property="og:image" content="${escapeHtml(image)}">`,
    `<meta property="og:image:width" content="512">`,
    `<meta property="og:image:height" content="512">`,
    `<meta property="og:image:alt" content="Townhall">`,
    `<meta name="twitter:card" content="summary">`,
    `<meta name="twitter:title" content="${t}">`,
    `<meta name="twitter:description" content="${d}">`,
    `<meta name="twitter:image" content="${escapeHtml(image)}">`,
  ].join('\n  ')
  return index
    .replace(/<title>[^<]*<\/title>/, `<title>${t === 'A room on Townhall' ? 'Townhall' : `${t} · Townhall`}</title>`)
    .replace(/<meta name="description"[^>]*>/, `<meta name="description" content="${d}">`)
    .replace('</head>', `  ${meta}\n</head>`)
}

const textOf = async (body: Uint8Array | Blob) =>
  body instanceof Blob ? await body.text() : new TextDecoder().decode(body)

const notFound = () =>
  Response.json(errorBody('not_found'), { status: 404, headers: { 'x-content-type-options': 'nosniff' } })

export const roomPages = (deps: { core: Core; accounts: AccountsApi }, rooms: RoomsService) => {
  const { core } = deps
  const ics = (list: RoomRow[], name?: string) =>
    icsCalendar(
      list.map((room) => ({ room, hosts: rooms.schedule.hosts(room), url: `${core.origin()}/rooms/${room.id}` })),
      core.origin(),
      name,
    )
  const calendarResponse = (body: string, filename: string) =>
    new Response(body, {
      headers: {
        'content-type': 'text/calendar; charset=utf-8',
        'content-disposition': `attachment; filename="${filename}"`,
        'cache-control': 'private, no-cache',
        'x-content-type-options': 'nosniff',
      },
    })
  return new Elysia({ tags: ['rooms'] } as any)
    .use(sessionPlugin(deps))
    .get(
      '/rooms/:file',
      async ({ params, viewer }) => {
        const m = /^([1-9]\d{0,15})(\.ics)?$/.exec(params.file)
        const id = m ? Number(m[1]) : null
        const room = id !== null && Number.isSafeInteger(id) ? await rooms.store.byId(id) : null
        if (m?.[2]) {
          // The .ics: an open room for anyone, any other room for those who may see it.
          const userId = viewer?.user.id ?? null
          const may = room && (room.kind === 'open' || (userId !== null && rooms.access.mayKnow(room, userId)))
          if (!room || !may) return notFound()
          return calendarResponse(ics([room]), `townhall-room-${room.id}.ics`)
        }
        const files = await clientFiles()
        const index = files.get('/index.html')!
        const url = `${core.origin()}/rooms/${params.file}`
        const html = withCard(
          await textOf(index.identity.body),
          cardOf(rooms, room),
          url,
          `${core.origin()}/icons/icon-512.png`,
        )
        return new Response(html, {
          headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, 'cache-control': 'no-cache' },
        })
      },
      { detail: { summary: "A room's page (Open Graph card) or its .ics (/rooms/<id>.ics)" } },
    )
    .get(
      '/calendar/:file',
      async ({ params }) => {
        const m = /^([A-Za-z0-9_-]{16,64})\.ics$/.exec(params.file)
        const list = m ? await rooms.schedule.calendarRooms(m[1]!) : null
        if (!list) return notFound()
        return calendarResponse(ics(list, 'Townhall'), 'townhall.ics')
      },
      { detail: { summary: "A member's private calendar feed: the rooms they host or said yes to" } },
    )
}

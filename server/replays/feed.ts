// A member's private podcast feed (RP50–RP54): RSS 2.0 with the iTunes and Podcasting 2.0 namespaces, one item per
// ready replay the member may see; every URL in it carries the feed's secret (podcast apps send no cookie). Text is
// XML-escaped; the feed asks directories not to list it (itunes:block, podcast:locked).

const XML: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }
// Control characters are not allowed in XML 1.0 at all (tab, newline and return are).
const allowed = (c: string) => c >= ' ' || c === '\t' || c === '\n' || c === '\r'
const escapeXml = (s: string) =>
  [...s]
    .filter(allowed)
    .join('')
    .replace(/[<>&"']/g, (c) => XML[c]!)

export interface FeedItem {
  id: number
  title: string
  description: string
  /** The page in the app. */
  link: string
  /** The enclosure and the JSON chapters, each with the feed's secret in its URL. */
  audioUrl: string
  chaptersUrl: string
  bytes: number
  durationMs: number
  publishedAt: number
}

/** hh:mm:ss, as itunes:duration likes it. */
const hms = (ms: number) => {
  const s = Math.round(ms / 1000)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`
}

export function podcastFeed(f: {
  title: string
  description: string
  origin: string
  owner: string
  items: FeedItem[]
}) {
  const host = new URL(f.origin).host
  const item = (i: FeedItem) =>
    [
      '    <item>',
      `      <title>${escapeXml(i.title)}</title>`,
      `      <description>${escapeXml(i.description)}</description>`,
      `      <link>${escapeXml(i.link)}</link>`,
      `      <guid isPermaLink="false">townhall-replay-${i.id}@${escapeXml(host)}</guid>`,
      `      <pubDate>${new Date(i.publishedAt).toUTCString()}</pubDate>`,
      `      <enclosure url="${escapeXml(i.audioUrl)}" length="${i.bytes}" type="audio/ogg"/>`,
      `      <itunes:duration>${hms(i.durationMs)}</itunes:duration>`,
      `      <itunes:summary>${escapeXml(i.description)}</itunes:summary>`,
      `      <itunes:explicit>false</itunes:explicit>`,
      `      <itunes:episodeType>full</itunes:episodeType>`,
      `      <podcast:chapters url="${escapeXml(i.chaptersUrl)}" type="application/json+chapters"/>`,
      '    </item>',
    ].join('\n')
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"',
    '  xmlns:podcast="https://podcastindex.org/namespace/1.0" xmlns:atom="http://www.w3.org/2005/Atom">',
    '  <channel>',
    `    <title>${escapeXml(f.title)}</title>`,
    `    <link>${escapeXml(f.origin)}/replays</link>`,
    `    <description>${escapeXml(f.description)}</description>`,
    '    <language>en</language>',
    `    <lastBuildDate>${new Date().toUTCString()}</lastBuildDate>`,
    '    <generator>Townhall</generator>',
    `    <itunes:author>${escapeXml(f.owner)}</itunes:author>`,
    `    <itunes:image href="${escapeXml(f.origin)}/icons/icon-512.png"/>`,
    `    <image><url>${escapeXml(f.origin)}/icons/icon-512.png</url><title>${escapeXml(f.title)}</title>` +
      `<link>${escapeXml(f.origin)}/replays</link></image>`,
    '    <itunes:category text="Society &amp; Culture"/>',
    '    <itunes:explicit>false</itunes:explicit>',
    '    <itunes:type>episodic</itunes:type>',
    '    <itunes:block>Yes</itunes:block>',
    '    <podcast:locked>yes</podcast:locked>',
    ...f.items.map(item),
    '  </channel>',
    '</rss>',
    '',
  ].join('\n')
}

// User text to vnodes, with no markup from the user ever: plain http(s) URLs become safe links, search hits <mark>.
import { html } from 'htm/preact'

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi
const TRAILING = /[.,;:!?\]}'"]$/
const count = (s: string, c: string) => s.split(c).length - 1

/** Drops punctuation that ends the sentence rather than the URL (a ")" only when it has no "(" to close). */
function trimUrl(url: string) {
  for (;;) {
    if (TRAILING.test(url)) url = url.slice(0, -1)
    else if (url.endsWith(')') && count(url, ')') > count(url, '(')) url = url.slice(0, -1)
    else return url
  }
}

/** Splits text into strings and safe links. Anything that is not a plain http(s) URL stays text. */
export function linkify(text: string): any[] {
  const out: any[] = []
  let last = 0
  for (const m of text.matchAll(URL_RE)) {
    const url = trimUrl(m[0])
    let ok = false
    try {
      const u = new URL(url)
      ok = u.protocol === 'http:' || u.protocol === 'https:'
    } catch {
      ok = false
    }
    if (!ok) continue
    if (m.index! > last) out.push(text.slice(last, m.index))
    out.push(html`<a href=${url} target="_blank" rel="noopener noreferrer nofollow">${url}</a>`)
    last = m.index! + url.length
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

/** Search snippets: highlights come between \u0002 and \u0003; the rest is text. */
export function highlighted(snippet: string) {
  return snippet.split('\u0002').map((part, i) => {
    if (i === 0) return part
    const [hit, rest = ''] = part.split('\u0003')
    return html`<mark>${hit}</mark>${rest}`
  })
}

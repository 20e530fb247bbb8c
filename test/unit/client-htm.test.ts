// The build's htm compiler (scripts/htm.ts): every compiled template gives the same Preact tree htm gives at run time
// (tags, props, keys, text, children, in order), and every client module compiles to valid TypeScript with no
// template left for the browser to parse.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the cases are templates' source text, compiled as such
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { html } from 'htm/preact'
import { h, type VNode } from 'preact'
import { compileHtm } from '../../scripts/htm'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const IMPORT = "import { html } from 'htm/preact'\n"
const COMPILED_IMPORT = "import { h as __h } from 'preact'\n"

/** A comparable form of what a template gives: vnodes as plain data (a component by its name). */
function plain(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(plain)
  if (x === null || typeof x !== 'object' || !('type' in x) || !('props' in x)) return x
  const v = x as VNode<Record<string, unknown>>
  const { children, ...props } = v.props
  return {
    type: typeof v.type === 'function' ? `<${v.type.name}>` : v.type,
    key: v.key ?? null,
    props: Object.fromEntries(Object.entries(props).map(([k, p]) => [k, typeof p === 'function' ? 'fn' : p])),
    children: plain(children),
  }
}

/** The same template through htm at run time and through the compiler, with the same values in scope. */
function both(template: string, scope: Record<string, unknown> = {}) {
  const names = Object.keys(scope)
  const values = Object.values(scope)
  const runtime = new Function('html', ...names, `return ${template}`)(html, ...values)
  const compiled = compileHtm(`${IMPORT}return ${template}`, 'case')
  expect(compiled.startsWith(COMPILED_IMPORT)).toBe(true)
  expect(compiled).not.toContain('html`')
  const body = compiled.slice(COMPILED_IMPORT.length)
  const built = new Function('__h', ...names, body)(h, ...values)
  return { runtime: plain(runtime), compiled: plain(built) }
}

function Card(props: { children?: unknown }) {
  return props.children
}

const ID = { id: 'room-1', n: 2, b: 'B', title: 'Morning {coffee} `x`', obj: { c: 3, b: 'spread' }, list: [1, 2], Card }

const CASES: [string, string, Record<string, unknown>?][] = [
  ['an element with static props', 'html`<a class="btn small" href="/replays">Replays</a>`'],
  ['fields as props and children', 'html`<h3 id=${id}><a href=${"/rooms/" + n}>${title}</a></h3>`', ID],
  ['mixed attribute values (text and fields)', 'html`<div class="a ${b} c${n}" data-x=${n}${n}>x</div>`', ID],
  ['a boolean attribute and quotes', `html\`<input disabled type='text' value="it's" />\``],
  ['a component, its children and a closing tag by field', 'html`<${Card} k=${n}><b>x</b> y<//>`', ID],
  ['a closing tag naming the component', 'html`<${Card}>${title}</${Card}>`', ID],
  ['several roots', 'html`<p>one</p><p>two</p>${title}`', ID],
  ['a spread between props', 'html`<div a="1" ...${obj} b=${n}><span ...${obj} /></div>`', ID],
  ['whitespace with newlines trimmed, inline spaces kept', 'html`<ul>\n  <li> a </li>\n  <li>${n} b</li>\n</ul>`', ID],
  ['a comment', 'html`<div><!-- a note -->x</div>`'],
  ['escapes in the text', 'html`<p>a \\` tick, a \\${not} field, a \\\\ slash</p>`'],
  ['keys on a list', 'html`<ul>${list.map((i) => html`<li key=${i}>${i}</li>`)}</ul>`', ID],
  ['a condition choosing a nested template', 'html`<div>${n > 1 ? html`<b>${n}</b>` : html`<i>no</i>`}</div>`', ID],
  [
    'a field holding a regular expression and a plain template',
    'html`<p>${title.replace(/[}`]/g, "-")} ${`t${n}`}</p>`',
    ID,
  ],
  ['a field holding an object literal and a comment', 'html`<p style=${{ color: "red" /* } */ }}>${n}</p>`', ID],
  ['an event handler', 'html`<button onClick=${() => n}>go</button>`', ID],
  ['text only', 'html`just text`'],
  ['an empty template', 'html``'],
]

for (const [what, template, scope] of CASES)
  test(`compiled htm: ${what}`, () => {
    const { runtime, compiled } = both(template, scope)
    expect(compiled).toEqual(runtime)
  })

test('compiled htm: every client module compiles to TypeScript with no html`…` left', () => {
  const client = join(import.meta.dir, '..', '..', 'client')
  const files = [...new Bun.Glob('**/*.ts').scanSync({ cwd: client })].filter((f) => !f.startsWith('dist/'))
  const transpiler = new Bun.Transpiler({ loader: 'ts' })
  let templates = 0
  for (const f of files) {
    const src = readFileSync(join(client, f), 'utf8')
    const out = compileHtm(src, f)
    if (src.includes('html`')) {
      templates += src.split('html`').length - 1
      expect(out).toContain(COMPILED_IMPORT.trim())
    } else expect(out).toBe(src)
    expect(out).not.toContain('html`')
    expect(() => transpiler.transformSync(out)).not.toThrow()
  }
  expect(templates).toBeGreaterThan(100)
})

test('compiled htm: what it cannot read fails with the file and line', () => {
  expect(() => compileHtm(`${IMPORT}\nconst x = html\`<p>\${a</p>`, 'broken.ts')).toThrow(/broken\.ts:3: unterminated/)
  expect(() => compileHtm('const x = html`<p />`', 'noimport.ts')).toThrow(/noimport\.ts: html/)
})

// The client's htm templates compiled at build time: each html`…` becomes the `h()` calls htm would make at run time,
// so the browser parses no template (htm parses each on its first use: a cost paid in the first render). The parse is
// htm's own (`build` and `treeify` from htm/src/build.mjs, as babel-plugin-htm does); this file only finds the tagged
// templates in TypeScript source (a small lexer: comments, strings, templates, regular expressions) and writes the
// calls. scripts/client.ts runs it as a Bun.build plugin; the source, its types and the unit tests keep htm.
// @ts-expect-error htm ships no types for its build module
import { build, treeify } from 'htm/src/build.mjs'

/** The name the compiled calls use for Preact's `h` (imported by each compiled file). */
const H = '__h'
const HTM_IMPORT = /^import \{ html \} from 'htm\/preact'$/m

/** A `${…}` of a template: the compiled source of the expression. */
interface Field {
  code: string
}
type Child = string | Field | Element
interface Element {
  tag: string | Field
  props: (Record<string, (string | true | Field)[]> | Field)[]
  children: Child[]
}

const isField = (x: unknown): x is Field => typeof x === 'object' && x !== null && 'code' in x
const isIdent = (c: string | undefined) => c !== undefined && /[\w$]/.test(c)
/** After these a `/` starts a regular expression, not a division. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw'])

function value(v: string | true | Field) {
  return v === true ? 'true' : isField(v) ? `(${v.code})` : JSON.stringify(v)
}

/** htm's props: PROP_SET then PROP_APPEND (`a + (b + '')`), spreads with Object.assign, in their order. */
function props(list: Element['props']) {
  const parts = list.map((p) => {
    if (isField(p)) return `(${p.code})`
    const entries = Object.entries(p).map(([name, vs]) => {
      const v = vs.length === 1 ? value(vs[0]!) : `"" + ${vs.map(value).join(' + ')}`
      return `${JSON.stringify(name)}: ${v}`
    })
    return `{ ${entries.join(', ')} }`
  })
  if (parts.length === 0) return 'null'
  if (parts.length === 1 && !isField(list[0])) return parts[0]!
  return `Object.assign({}, ${parts.join(', ')})`
}

function child(c: Child): string {
  if (typeof c === 'string') return JSON.stringify(c)
  if (isField(c)) return `(${c.code})`
  const tag = typeof c.tag === 'string' ? JSON.stringify(c.tag) : `(${c.tag.code})`
  return `${H}(${[tag, props(c.props), ...c.children.map(child)].join(', ')})`
}

/** One template's statics (cooked) and compiled fields → the expression htm would return. */
function compileTemplate(statics: string[], fields: Field[]) {
  const tree = treeify(build(statics), fields) as Child | Child[] | undefined
  if (tree === undefined) return 'undefined'
  return Array.isArray(tree) ? `[${tree.map(child).join(', ')}]` : child(tree)
}

/** A template's raw text between its backticks → the string the tag receives (`\n`, `\``, `\${` … resolved). */
const cooked = (raw: string) => (raw.includes('\\') ? (new Function(`return \`${raw}\``)() as string) : raw)

class Lexer {
  i = 0
  constructor(
    readonly src: string,
    readonly file: string,
  ) {}

  fail(what: string): never {
    const line = this.src.slice(0, this.i).split('\n').length
    throw new Error(`htm: ${this.file}:${line}: ${what}`)
  }

  /** Code up to the `}` that closes a `${` (or the end): its text with every html`…` compiled. */
  code(inField: boolean): string {
    const { src } = this
    let out = ''
    let depth = 0
    // The last significant token's kind, to tell a regular expression from a division.
    let last: 'value' | 'word' | 'punct' = 'punct'
    while (this.i < src.length) {
      const c = src[this.i]!
      const next = src[this.i + 1]
      if (c === '/' && next === '/') {
        const end = src.indexOf('\n', this.i)
        const stop = end < 0 ? src.length : end
        out += src.slice(this.i, stop)
        this.i = stop
      } else if (c === '/' && next === '*') {
        const end = src.indexOf('*/', this.i + 2)
        if (end < 0) this.fail('unterminated comment')
        out += src.slice(this.i, end + 2)
        this.i = end + 2
      } else if (c === '"' || c === "'") {
        out += this.string(c)
        last = 'value'
      } else if (c === '`') {
        out += this.template(null)
        last = 'value'
      } else if (c === '/') {
        if (last === 'value') {
          out += c
          this.i++
          last = 'punct'
        } else {
          out += this.regex()
          last = 'value'
        }
      } else if (isIdent(c)) {
        let j = this.i
        while (isIdent(src[j])) j++
        const word = src.slice(this.i, j)
        let k = j
        while (src[k] === ' ' || src[k] === '\n') k++
        if (word === 'html' && src[k] === '`' && src[this.i - 1] !== '.' && !isIdent(src[this.i - 1])) {
          this.i = k
          out += this.template('html')
          last = 'value'
        } else {
          out += word
          this.i = j
          last = BEFORE_REGEX.has(word) ? 'word' : 'value'
        }
      } else {
        if (c === '{') depth++
        else if (c === '}') {
          if (depth === 0 && inField) return out
          depth--
        }
        out += c
        this.i++
        if (c === ')' || c === ']' || c === '}') last = 'value'
        else if (!/\s/.test(c)) last = 'punct'
      }
    }
    if (inField) this.fail('unterminated ${ in a template')
    return out
  }

  string(quote: string) {
    const { src } = this
    let j = this.i + 1
    while (j < src.length && src[j] !== quote) {
      if (src[j] === '\\') j++
      else if (src[j] === '\n') break
      j++
    }
    if (src[j] !== quote) this.fail('unterminated string')
    const s = src.slice(this.i, j + 1)
    this.i = j + 1
    return s
  }

  regex() {
    const { src } = this
    let j = this.i + 1
    let inClass = false
    while (j < src.length) {
      const c = src[j]
      if (c === '\\') j++
      else if (c === '[') inClass = true
      else if (c === ']') inClass = false
      else if (c === '/' && !inClass) break
      else if (c === '\n') this.fail('unterminated regular expression')
      j++
    }
    if (j >= src.length) this.fail('unterminated regular expression')
    j++
    while (isIdent(src[j])) j++
    const s = src.slice(this.i, j)
    this.i = j
    return s
  }

  /** A template literal from its opening backtick; compiled to `h()` calls when its tag is html. */
  template(tag: 'html' | null) {
    const { src } = this
    this.i++
    const raws: string[] = []
    const fields: Field[] = []
    let raw = ''
    while (true) {
      if (this.i >= src.length) this.fail('unterminated template')
      const c = src[this.i]!
      if (c === '\\') {
        raw += src.slice(this.i, this.i + 2)
        this.i += 2
      } else if (c === '`') {
        this.i++
        raws.push(raw)
        break
      } else if (c === '$' && src[this.i + 1] === '{') {
        this.i += 2
        raws.push(raw)
        raw = ''
        fields.push({ code: this.code(true) })
        this.i++ // the closing }
      } else {
        raw += c
        this.i++
      }
    }
    if (tag === 'html') return `(${compileTemplate(raws.map(cooked), fields)})`
    let out = '`'
    raws.forEach((r, n) => {
      out += r
      if (n < fields.length) out += `\${${fields[n]!.code}}`
    })
    return `${out}\``
  }
}

/**
 * A client module's source with its html`…` templates compiled to Preact `h()` calls (the import of htm replaced by
 * Preact's `h`); the source as is when it has none. Throws, naming the file and line, on what it cannot read.
 */
export function compileHtm(src: string, file = '<source>') {
  if (!src.includes('html`')) return src
  const out = new Lexer(src, file).code(false)
  if (!HTM_IMPORT.test(out)) throw new Error(`htm: ${file}: html\`…\` without "import { html } from 'htm/preact'"`)
  return out.replace(HTM_IMPORT, `import { h as ${H} } from 'preact'`)
}

/** The Bun.build plugin that compiles the templates of the client's modules (client/…/*.ts). */
export const htmPlugin: Bun.BunPlugin = {
  name: 'htm-precompile',
  setup(b) {
    b.onLoad({ filter: /[\\/]client[\\/].*\.ts$/ }, async (args) => ({
      contents: compileHtm(await Bun.file(args.path).text(), args.path),
      loader: 'ts',
    }))
  },
}

// Writes the options table of server/config.ts into README.md, between the config:start and config:end markers.
// `bun scripts/config-table.ts` after adding a variable; test/unit/readme.test.ts checks that none is missing.
import { join } from 'node:path'
import { OPTIONS } from '../server/config'

export function configTable(): string {
  const rows = Object.values(OPTIONS).map(
    (o: { env: string; default: string; secret?: boolean; description: string }) => {
      const name = `\`${o.env}\`${o.secret ? ` (or \`${o.env}_FILE\`)` : ''}`
      const value = o.default === '' ? '—' : `\`${o.default}\``
      return `| ${name} | ${value} | ${o.description.replace(/\|/g, '\\|')} |`
    },
  )
  return ['| Variable | Default | What it does |', '|---|---|---|', ...rows].join('\n')
}

if (import.meta.main) {
  const file = join(import.meta.dir, '..', 'README.md')
  const text = await Bun.file(file).text()
  const next = text.replace(/(<!-- config:start -->\n)[\s\S]*?(\n<!-- config:end -->)/, `$1${configTable()}$2`)
  if (next === text) console.log('README.md: config table already up to date')
  else {
    await Bun.write(file, next)
    console.log('README.md: config table updated')
  }
}

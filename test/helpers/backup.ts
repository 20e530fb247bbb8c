// Reads a backup (a tar) the way restore does: extracted into a temporary folder; returns its database's path.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { extractTar } from '../../server/db/tar'

export async function backupDatabase(file: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-backup-read-'))
  await extractTar(file, dir, () => true)
  return join(dir, 'townhall.db')
}

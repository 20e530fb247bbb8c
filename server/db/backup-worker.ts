// The backup worker [D60]: runs a backup (database snapshot through its own connection, then the tar) off the
// server's thread, so live audio, the WebSocket and HTTP go on while it is written. Started by createBackup() in
// backup.ts, one per backup; it answers once. In the compiled binary it is a second entry point (scripts/build.ts).
import { type BackupReply, type BackupRequest, writeBackup } from './backup'

declare const self: Worker

let stopped = false
self.onmessage = async (e: MessageEvent<BackupRequest>) => {
  const req = e.data
  if (req.type === 'cancel') {
    stopped = true
    return
  }
  let reply: BackupReply
  try {
    reply = { ok: true, result: await writeBackup(req.dbFile, req.dataDir, req.target, () => stopped) }
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) }
  }
  self.postMessage(reply)
}

// PLACEHOLDER until the mixer's branch is merged: its server/replays/clip.ts (a WASM Opus cut) replaces this file
// whole. This one runs Debian's ffmpeg, which is installed for tests only; without it a clip is refused.
import { stat } from 'node:fs/promises'
import { fail } from '../errors'

export async function cutClip(srcPath: string, startMs: number, durationMs: number, destPath: string) {
  const args = ['-v', 'error', '-y', '-ss', String(startMs / 1000), '-t', String(durationMs / 1000)]
  let proc: ReturnType<typeof Bun.spawn>
  try {
    proc = Bun.spawn(['ffmpeg', ...args, '-i', srcPath, '-c:a', 'libopus', '-b:a', '48k', destPath], {
      stdout: 'ignore',
      stderr: 'pipe',
    })
  } catch {
    fail('internal', 'cutting clips needs the mixer (not merged yet)')
  }
  if ((await proc.exited) !== 0) throw new Error(`clip: ffmpeg failed on ${srcPath}`)
  return { bytes: (await stat(destPath)).size, durationMs }
}

// How fast a replay is mixed [RP30]: a 10-minute room of three speakers (MIX_MINUTES, default 10), each speaking in
// turn with short interjections and a long silence every few minutes, from real capture files made with the server's
// own codec. Mixed once in this thread (CPU time measured around it) and once through the replay worker (wall time).
// Usage: bun test/bench/replay-mix.ts   Reports seconds of audio mixed per second of CPU; the last line is one JSON
// object.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mixReplay } from '../../server/replays/mix'
import { startReplayWorker } from '../../server/replays/worker-client'
import { type Tone, toneCapture } from '../helpers/replays'

const MINUTES = Number(process.env.MIX_MINUTES ?? 10)
const dir = mkdtempSync(join(tmpdir(), 'townhall-bench-mix-'))
try {
  const origin = 1_800_000_000_000
  const freqs = [440, 660, 880]
  const tones: Tone[][] = [[], [], []]
  // 20 s turns in rotation; every 4th minute a 10 s silence; a 1 s interjection in every turn.
  for (let t = 0, turn = 0; t < MINUTES * 60_000; t += 20_000, turn++) {
    if (t % 240_000 === 220_000) continue
    const who = turn % 3
    tones[who]!.push({ startMs: t, durationMs: 19_000, freq: freqs[who]! })
    tones[(who + 1) % 3]!.push({ startMs: t + 8000, durationMs: 1000, freq: freqs[(who + 1) % 3]! })
  }
  const t0 = performance.now()
  const tracks = tones.map((list, i) => {
    const path = join(dir, `${i}.cap`)
    toneCapture(
      list.sort((a, b) => a.startMs - b.startMs),
      { origin, path },
    )
    return { userId: i + 1, name: `speaker ${i + 1}`, path }
  })
  const captureBytes = tracks.reduce((n, t) => n + statSync(t.path).size, 0)
  console.log(
    `capture files: ${MINUTES} min × 3 speakers, ${(captureBytes / 1e6).toFixed(1)} MB, ` +
      `made in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )

  const cpu0 = process.cpuUsage()
  const w0 = performance.now()
  const r = mixReplay({ tracks, questions: [], dest: join(dir, 'here.opus'), title: 'bench' })
  const cpu = process.cpuUsage(cpu0)
  const cpuS = (cpu.user + cpu.system) / 1e6
  const wallS = (performance.now() - w0) / 1000
  const audioS = r.durationMs / 1000
  console.log(
    `in this thread: ${audioS.toFixed(0)} s of replay (${MINUTES * 60} s of room) in ${cpuS.toFixed(1)} s CPU, ` +
      `${wallS.toFixed(1)} s wall: ${((MINUTES * 60) / cpuS).toFixed(1)} s of room per CPU second; ` +
      `${(r.bytes / 1e6).toFixed(2)} MB, ${r.chapters.length} chapters`,
  )

  const w1 = performance.now()
  await startReplayWorker({
    type: 'mix',
    input: { tracks, questions: [], dest: join(dir, 'worker.opus'), title: 'bench' },
  }).done
  const workerS = (performance.now() - w1) / 1000
  console.log(`in the replay worker: ${workerS.toFixed(1)} s wall`)
  console.log(
    JSON.stringify({
      minutes: MINUTES,
      speakers: 3,
      replaySeconds: audioS,
      cpuSeconds: +cpuS.toFixed(2),
      roomSecondsPerCpuSecond: +((MINUTES * 60) / cpuS).toFixed(1),
      wallSeconds: +wallS.toFixed(2),
      workerWallSeconds: +workerS.toFixed(2),
      bytes: r.bytes,
      chapters: r.chapters.length,
    }),
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}

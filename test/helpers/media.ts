// Real video and voice files for the tests, made now by ffmpeg (Debian's; .ci/run installs it): a 2 s MP4 H.264/AAC,
// a 2 s WebM VP8/Opus, 3 s of Ogg Opus and of WebM Opus, 5 min 10 s of Ogg Opus, an MPEG-4 Part 2 MP4 (refused) and a
// text file named like a video. Each carries a title tag ("secret-title") that the server must not keep where the
// container lets it drop it.
import { join } from 'node:path'

export interface MediaFiles {
  mp4: Uint8Array
  webm: Uint8Array
  mpeg4: Uint8Array
  ogg: Uint8Array
  voiceWebm: Uint8Array
  long: Uint8Array
  text: Uint8Array
  /** Where the files are (for a browser to pick). */
  paths: Record<string, string>
}

const VIDEO_IN = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440']
const TONE = ['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=48000']

async function ffmpeg(out: string, args: string[]) {
  const p = Bun.spawn(['ffmpeg', '-v', 'error', '-y', ...args, '-metadata', 'title=secret-title', out], {
    stderr: 'pipe',
  })
  if ((await p.exited) !== 0) throw new Error(`ffmpeg ${out}: ${await new Response(p.stderr).text()}`)
}

export async function makeMedia(dir: string): Promise<MediaFiles> {
  const paths = {
    mp4: join(dir, 'clip.mp4'),
    webm: join(dir, 'clip.webm'),
    mpeg4: join(dir, 'mpeg4.mp4'),
    ogg: join(dir, 'voice.ogg'),
    voiceWebm: join(dir, 'voice.webm'),
    long: join(dir, 'long.ogg'),
    text: join(dir, 'notes.mp4'),
  }
  await Promise.all([
    ffmpeg(paths.mp4, [...VIDEO_IN, '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac']),
    ffmpeg(paths.webm, [...VIDEO_IN, '-t', '2', '-c:v', 'libvpx', '-b:v', '300k', '-c:a', 'libopus']),
    ffmpeg(paths.mpeg4, [...VIDEO_IN, '-t', '1', '-c:v', 'mpeg4', '-c:a', 'aac']),
    ffmpeg(paths.ogg, [...TONE, '-t', '3', '-c:a', 'libopus']),
    ffmpeg(paths.voiceWebm, [...TONE, '-t', '3', '-c:a', 'libopus']),
    ffmpeg(paths.long, [...TONE, '-t', '310', '-c:a', 'libopus', '-b:a', '6k']),
  ])
  await Bun.write(paths.text, 'These are my notes, not a video.\n'.repeat(40))
  const read = async (p: string) => new Uint8Array(await Bun.file(p).arrayBuffer())
  return {
    mp4: await read(paths.mp4),
    webm: await read(paths.webm),
    mpeg4: await read(paths.mpeg4),
    ogg: await read(paths.ogg),
    voiceWebm: await read(paths.voiceWebm),
    long: await read(paths.long),
    text: await read(paths.text),
    paths,
  }
}

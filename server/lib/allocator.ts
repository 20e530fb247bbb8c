// The memory allocator's setting the server runs with (H87). Bun's allocator (mimalloc) gives freed pages back to the
// system within milliseconds: under load the JavaScript heap's blocks are freed after each collection and taken
// again at once, and every round trip costs a madvise (with its TLB flush on every core) and a page fault per page.
// Kept instead, Backchannel at 10,000 messages/s costs about a sixth less CPU (docs/PERFORMANCE.md, "part 4"),
// for a resident size that stays at its peak. mimalloc reads it from the environment when the process starts, so the
// image (Dockerfile), `npm start` / `npm run dev` and bench:chat set it; a binary started without it says so at start.

/** The environment the server is started with (the Dockerfile, package.json's scripts and bench:chat agree: H87). */
export const ALLOCATOR_ENV = { MIMALLOC_PURGE_DELAY: '-1' } as const

/** The start-up hint when the process was started without it (null when it was, or the operator chose a value). */
export function allocatorHint(env: Record<string, string | undefined> = process.env): string | null {
  if (env.MIMALLOC_PURGE_DELAY !== undefined) return null
  return (
    'MIMALLOC_PURGE_DELAY is not set: start the server with MIMALLOC_PURGE_DELAY=-1 for less CPU under load ' +
    '(the Docker image and npm start do; README, "Binary")'
  )
}

// Known port numbers for a test file (a server's RTC_PORT, the bots' UDP range) that hold beside other test files
// running at the same time (`bun test --parallel`, another checkout's tests on the same machine). A file claims a
// block of BLOCK consecutive numbers below the kernel's ephemeral range (Linux: 32768..60999, where every port-0 bind
// lands: a test server's HTTP port, a bot without a range), so no ephemeral socket ever takes one of its numbers; the
// claim is a TCP listener on the block's first number, held until release(). Another file that draws the same block
// fails to listen there and draws again. Inside its block a file lays out its ports as it likes (`at(offset)`).
import { createServer, type Server } from 'node:net'

/** Numbers in a block. */
const BLOCK = 2000
const FIRST = 10_000
const BLOCKS = Math.floor((32_768 - FIRST) / BLOCK)

export interface PortBlock {
  /** The block's first number (its TCP number is the claim; its UDP number is free for the file). */
  base: number
  /** base + offset (0 ≤ offset < BLOCK). */
  at(offset: number): number
  /** [base + from, base + to]: a range for Bot.portRange. */
  range(from: number, to: number): [number, number]
  /** Gives the block back (afterAll). */
  release(): Promise<void>
}

function listen(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(null))
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(s))
  })
}

/** Claims a free block (tries them all in a random order; fails only when every block is taken). */
export async function reservePorts(): Promise<PortBlock> {
  const order = Array.from({ length: BLOCKS }, (_, i) => i).sort(() => Math.random() - 0.5)
  for (const i of order) {
    const base = FIRST + i * BLOCK
    const claim = await listen(base)
    if (!claim) continue
    claim.unref()
    const at = (offset: number) => {
      if (!Number.isInteger(offset) || offset < 0 || offset >= BLOCK) throw new Error(`port offset ${offset}`)
      return base + offset
    }
    return {
      base,
      at,
      range: (from, to) => [at(from), at(to)],
      release: () => new Promise<void>((r) => claim.close(() => r())),
    }
  }
  throw new Error(`every block of ${BLOCK} ports in ${FIRST}..${FIRST + BLOCKS * BLOCK - 1} is taken`)
}

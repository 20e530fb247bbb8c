// Counting a test server's own sockets (Linux /proc). The server runs inside the test process, beside the test's bots
// and clients, and the machine runs other processes: a count is of this process's sockets (its descriptors), told
// apart as the server's by their local port (the server's RTC range, its HTTP port). Sockets closed meanwhile,
// TIME_WAIT leftovers and other processes' sockets have no descriptor here and are not counted.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

const LISTEN = '0A'

/** Inodes of the sockets this process holds open. */
function ownInodes(): Set<string> {
  const mine = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (m) mine.add(m[1]!)
    } catch {
      /* closed meanwhile */
    }
  }
  return mine
}

/**
 * How many sockets of this process of the protocol have a local port for which `isServers(port)` holds. For TCP,
 * listening sockets are left out: what is counted is the server's ends of connections.
 */
export function serverSockets(proto: 'udp' | 'tcp', isServers: (port: number) => boolean): number {
  const mine = ownInodes()
  let n = 0
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    } // no IPv6 here
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (!cols[1] || !mine.has(cols[9]!)) continue
      if (proto === 'tcp' && cols[3] === LISTEN) continue
      if (isServers(parseInt(cols[1].split(':').at(-1)!, 16))) n++
    }
  }
  return n
}

/** The local addresses ("127.0.0.1", "0.0.0.0", "::"…) this process's UDP sockets on `port` are bound to. */
export function udpBindings(port: number): string[] {
  const mine = ownInodes()
  const out: string[] = []
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (!cols[1] || !mine.has(cols[9]!)) continue
      const [hex, p] = cols[1].split(':') as [string, string]
      if (parseInt(p, 16) !== port) continue
      if (hex.length === 8) out.push([3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.'))
      else out.push(hex === '0'.repeat(32) ? '::' : hex)
    }
  }
  return out
}

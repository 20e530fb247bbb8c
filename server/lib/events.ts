// Typed in-process events a domain emits after the change they describe: others subscribe with `on` when they are
// built. A listener that throws (or whose promise rejects: an async listener) is logged; it neither stops the other
// listeners nor fails the emitter's caller.
import type { Logger } from './log'

export class Emitter<Events extends { [K in keyof Events]: object }> {
  private listeners = new Map<keyof Events, Set<(e: never) => void>>()

  constructor(
    private domain: string,
    private log: Logger,
  ) {}

  on<E extends keyof Events>(event: E, fn: (e: Events[E]) => void) {
    let set = this.listeners.get(event)
    if (!set) this.listeners.set(event, (set = new Set()))
    set.add(fn)
  }

  emit<E extends keyof Events>(event: E, e: Events[E]) {
    const set = this.listeners.get(event)
    if (!set) return
    for (const fn of set) {
      try {
        const r: unknown = (fn as (e: Events[E]) => unknown)(e)
        if (r instanceof Promise) r.catch((error) => this.failed(event, error))
      } catch (error) {
        this.failed(event, error)
      }
    }
  }

  private failed(event: keyof Events, error: unknown) {
    this.log.error(`${this.domain}: a "${String(event)}" listener failed`, { error })
  }
}

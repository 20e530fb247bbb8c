// Speaking levels, an observer of a room's router: every LEVELS_EVERY ticks it reads who is speaking and how loud,
// and hands the levels on (the media service publishes them as `room.levels`). Off the per-packet path.
import type { Router, RouterObserver } from './router'

/** Levels go out every LEVELS_EVERY router ticks (TICK_MS each) while someone speaks. */
const LEVELS_EVERY = 3

export type Levels = Record<string, number>

export class LevelsObserver implements RouterObserver {
  private ticks = 0
  /** Whether the last levels sent showed someone (then an empty set follows when nobody does any more). */
  private shown = false

  constructor(private readonly publish: (levels: Levels) => void) {}

  tick(router: Router) {
    if (++this.ticks % LEVELS_EVERY !== 0) return
    const levels: Levels = {}
    let any = false
    router.eachActive((key, level) => {
      if (level > 0.01) {
        levels[key] = Math.round(level * 100) / 100
        any = true
      }
    })
    if (!any && !this.shown) return
    this.shown = any
    this.publish(levels)
  }

  /** The room's audio is over: clear the rings if any were shown. */
  close() {
    if (this.shown) this.publish({})
  }
}

// Speaking levels, an observer of a room's router: every LEVELS_EVERY ticks it reads who is speaking and how loud,
// and hands the levels on (the media service publishes them as `room.levels`, serialised once for the room's topic).
// Off the per-packet path. Coalesced (M51): levels are rounded to LEVEL_STEP and a set equal to the last one sent is
// not sent again, so a steady voice costs the room far fewer messages than one every 300 ms.
import type { Router, RouterObserver } from './router'

/** Levels go out at most every LEVELS_EVERY router ticks (TICK_MS each) while someone speaks. */
const LEVELS_EVERY = 3
/** Levels are rounded to this step (the speaking rings read a threshold, not the exact value). */
const LEVEL_STEP = 0.1

export type Levels = Record<string, number>

export class LevelsObserver implements RouterObserver {
  private ticks = 0
  /** The last levels sent, as a comparable string ('' when none showed anyone). */
  private last = ''

  constructor(private readonly publish: (levels: Levels) => void) {}

  tick(router: Router) {
    if (++this.ticks % LEVELS_EVERY !== 0) return
    const levels: Levels = {}
    let key = ''
    router.eachActive((k, level) => {
      const v = Math.round(level / LEVEL_STEP) * LEVEL_STEP
      if (v > 0) {
        levels[k] = Math.round(v * 10) / 10
        key += `${k}=${levels[k]};`
      }
    })
    if (key === this.last) return
    this.last = key
    this.publish(levels)
  }

  /** The room's audio is over: clear the rings if any were shown. */
  close() {
    if (this.last) this.publish({})
    this.last = ''
  }
}

import { expect, setDefaultTimeout, test } from 'bun:test'
import { RateMeter } from '../../server/admin/metrics'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

test('[D13] rates are computed from counter samples over the last minute', () => {
  const m = new RateMeter()
  expect(m.rate()).toBe(0)
  m.sample(100, 0)
  expect(m.rate()).toBe(0) // one sample: no rate yet
  m.sample(150, 10_000)
  expect(m.rate()).toBe(5)
  m.sample(150, 20_000)
  expect(m.rate()).toBe(2.5)
  // samples older than a minute are forgotten: the rate follows the last minute only
  m.sample(150, 80_000)
  m.sample(750, 90_000)
  expect(m.rate()).toBeCloseTo(600 / 70, 5)
  // a counter that went back (a restart of the source) never gives a negative rate
  m.sample(0, 95_000)
  expect(m.rate()).toBe(0)
})

// The townhall command as a child process, for the tests of the CLI (server/main.ts): a clean environment (PATH,
// HOME, LOG_LEVEL=warn and what the test gives), run to completion.
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const MAIN = join(import.meta.dir, '../../server/main.ts')

/** The environment a command runs with: nothing of the test's own but PATH and HOME. */
export const cleanEnv = (env: Record<string, string>) => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? tmpdir(),
  LOG_LEVEL: 'warn',
  ...env,
})

/** Runs `townhall …` to completion: its exit code, stdout and stderr. */
export async function townhall(args: string[], env: Record<string, string>, stdin?: string) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], {
    env: cleanEnv(env),
    stdin: stdin === undefined ? 'ignore' : new Blob([stdin]),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out, err }
}

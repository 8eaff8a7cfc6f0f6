import { GraphCredentials } from "@meeting-artifacts/api"
import { ClusterRunner } from "@meeting-artifacts/cluster"
import * as net from "node:net"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import { ExitCode } from "../CliExit.js"
import type { Resolved } from "./flags.js"
import type { runnerFlags } from "./runnerFlags.js"
import { configErrorLine } from "./runSync.js"
import { markServing } from "./serving.js"

const fatal = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`meeting-artifacts runner: ${message.replace(/\s*\n\s*/g, " ")}\n`)
    return ExitCode.Fatal as number
  })

/** A free TCP port on `host` (the runner's address must be known before it listens, to register it). */
const freePort = (host: string): Effect.Effect<number, Error> =>
  Effect.async((resume) => {
    const server = net.createServer()
    server.once("error", (e) => resume(Effect.fail(e)))
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** The cluster's own log lines go to stderr: stdout carries the ready line only. */
const stderrLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

/** Runs until interrupted (SIGINT/SIGTERM end the program's fiber, which hands the runner's shards over). */
export const runRunner = (flags: Resolved<typeof runnerFlags>): Effect.Effect<number> =>
  Effect.scoped(
    Effect.gen(function*() {
      if (!/^postgres(ql)?:\/\//i.test(flags.cluster)) return yield* fatal("--cluster must be a postgres:// URL")
      const auth = yield* GraphCredentials.fromEnv(process.env).pipe(Effect.either)
      if (auth._tag === "Left") return yield* fatal(`cannot set up authentication: ${configErrorLine(auth.left)}`)
      const listenHost = flags.listenHost ?? flags.host
      const port = flags.port !== 0 ? flags.port : yield* freePort(listenHost).pipe(Effect.orElseSucceed(() => 0))
      if (port === 0) return yield* fatal(`cannot find a free port on ${listenHost}`)
      const started = yield* Layer.build(ClusterRunner.layer({
        clusterUrl: Redacted.make(flags.cluster),
        host: flags.host,
        port,
        listenHost,
        graph: auth.right
      })).pipe(Effect.either)
      if (started._tag === "Left") {
        const e = started.left
        return yield* fatal(`cannot join the cluster: ${e instanceof Error ? e.message : String(e)}`)
      }
      yield* Effect.sync(() => {
        process.stdout.write(`RUNNER_READY=${flags.host}:${port}\n`)
        process.stderr.write(
          `meeting-artifacts runner: joined the cluster as ${flags.host}:${port}; stop with SIGTERM\n`
        )
      })
      yield* markServing
      return yield* Effect.never
    })
  ).pipe(Effect.provide(stderrLogger))

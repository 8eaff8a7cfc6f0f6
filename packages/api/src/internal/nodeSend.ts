/**
 * Requests sent straight on Node's `http`/`https`, for the client `GraphClient.layer` builds. The
 * platform's `HttpClient.execute` costs more CPU than the request itself for small answers (a request
 * object and headers rebuilt, two forked fibers for body and answer, an AbortController per request,
 * aborted with a DOMException when a scoped answer's scope closes): one Promise-like callback pair per
 * request here. Any other `HttpClient` (one the caller provides) is used as it is.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as Https from "node:https"

/** What the request loop reads of an answer (a platform `HttpClientResponse` is one). */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The body (read once). */
  readonly stream: Stream.Stream<Uint8Array, unknown>
}

/** One request as the request loop builds it: a body is JSON text. */
export interface Outgoing {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | undefined
  /**
   * How long to wait for the answer's headers (ms): past it the request is destroyed and fails with
   * `AnswerTimeout`. Only transports that `honoursTimeout` says so read it.
   */
  readonly timeoutMs?: number | undefined
}

/** No answer came within `Outgoing.timeoutMs`. */
export class AnswerTimeout {
  readonly _tag = "AnswerTimeout"
}

/** The longest delay `setTimeout` honours (2^31 - 1 ms, ~24.8 days): a timeout longer than that is none. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** Transports (see `Exec` in request.ts) that end a request at its `Outgoing.timeoutMs` themselves. */
const timed = new WeakSet<object>()

/** Marks `exec` as one that honours `Outgoing.timeoutMs`. */
export const timesOut = <F extends object>(exec: F): F => {
  timed.add(exec)
  return exec
}

/** Whether `exec` honours `Outgoing.timeoutMs` (else its caller bounds the wait itself). */
export const honoursTimeout = (exec: object): boolean => timed.has(exec)

/**
 * Arms `out`'s timeout (when it has one a timer can hold): `onTimeout` runs once it passes. Returns the
 * disarm function.
 */
export const armTimeout = (out: Outgoing, onTimeout: () => void): () => void => {
  const ms = out.timeoutMs
  if (ms === undefined || ms > MAX_TIMER_MS) return noop
  const timer = setTimeout(onTimeout, Math.max(0, ms))
  return () => clearTimeout(timer)
}

const noop = () => {}

/** The agents of each HttpClient made by `layer` below: those clients' requests go through `exchange`. */
const direct = new WeakMap<HttpClient.HttpClient, NodeHttpClient.HttpAgent>()

/** Marks `client` (made on `agent`) as one whose requests may be sent directly on the agent. */
export const register = (client: HttpClient.HttpClient, agent: NodeHttpClient.HttpAgent): HttpClient.HttpClient => {
  direct.set(client, agent)
  return client
}

/** The agents to send `client`'s requests on directly, when it is one `register` marked. */
export const agentOf = (client: HttpClient.HttpClient): NodeHttpClient.HttpAgent | undefined => direct.get(client)

/**
 * Messages whose answer was dropped (collected) before its body was asked for, e.g. by a caller
 * interrupted between the headers and the body: destroyed, so their sockets do not stay taken until
 * the server closes them (the platform's client keeps the same safety net).
 */
const unread = new FinalizationRegistry<Http.IncomingMessage>((msg) => {
  if (!msg.complete && !msg.destroyed) msg.destroy()
})

/** An answer off a Node message (headers as Node gives them: lower-case names, repeats joined). */
class NodeAnswer implements Answer {
  constructor(readonly source: Http.IncomingMessage) {}
  get status() {
    return this.source.statusCode ?? 0
  }
  get headers() {
    return this.source.headers as Readonly<Record<string, string | undefined>>
  }
  get stream(): Stream.Stream<Uint8Array, unknown> {
    // its reader owns the message from here (and destroys it if it stops early)
    unread.unregister(this)
    return NodeStream.fromReadable(() => this.source, (e) => e)
  }
}

const request = (agent: NodeHttpClient.HttpAgent, out: Outgoing): Http.ClientRequest => {
  const headers = out.body === undefined
    ? out.headers
    : { ...out.headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(out.body)) }
  return out.url.protocol === "https:"
    ? Https.request(out.url, { agent: agent.https, method: out.method, headers })
    : Http.request(out.url, { agent: agent.http, method: out.method, headers })
}

/** Never lets a late error of a request go unhandled (the body's reader sees it on the message). */
const ignore = () => {}

/**
 * Sends `out` and waits for its answer's headers; interrupted, the request is destroyed. A failure is
 * the transport's own error (the cause a platform `RequestError` would carry).
 */
const send = (agent: NodeHttpClient.HttpAgent, out: Outgoing, onAnswer: (req: Http.ClientRequest) => void) =>
  Effect.async<Answer, unknown>((resume) => {
    let req: Http.ClientRequest
    try {
      req = request(agent, out)
    } catch (e) {
      resume(Effect.fail(e))
      return
    }
    let disarm = noop
    const settle = () => {
      disarm()
      req.off("error", onError)
      req.off("response", onResponse)
      req.on("error", ignore)
    }
    const onError = (e: unknown) => {
      settle()
      resume(Effect.fail(e))
    }
    const onResponse = (msg: Http.IncomingMessage) => {
      settle()
      onAnswer(req)
      resume(Effect.succeed(new NodeAnswer(msg)))
    }
    disarm = armTimeout(out, () => {
      settle()
      req.destroy()
      resume(Effect.fail(new AnswerTimeout()))
    })
    req.on("error", onError)
    req.on("response", onResponse)
    req.end(out.body)
    return Effect.sync(() => {
      settle()
      req.destroy()
    })
  })

/** A request whose answer is read by the caller at its own pace (its body is destroyed if unread when it is done). */
export const exchange = (agent: NodeHttpClient.HttpAgent) =>
  timesOut((out: Outgoing): Effect.Effect<Answer, unknown> =>
    Effect.map(send(agent, out, ignore), (answer) => {
      if (answer instanceof NodeAnswer) unread.register(answer, answer.source, answer)
      return answer
    })
  )

/**
 * A request whose answer lives as long as the caller's scope: closing it ends a body still in flight
 * (as the platform's `HttpClient.withScope` does, without an AbortController). A request whose answer
 * was read to its end is already done (Node marks it destroyed when its socket goes back to the pool).
 */
export const exchangeScoped = (agent: NodeHttpClient.HttpAgent) =>
  timesOut((out: Outgoing): Effect.Effect<Answer, unknown, Scope.Scope> =>
    Effect.flatMap(Effect.scope, (scope) => {
      let sent: Http.ClientRequest | undefined
      return Effect.zipRight(
        Scope.addFinalizer(scope, Effect.sync(() => sent?.destroy())),
        send(agent, out, (req) => (sent = req))
      )
    })
  )

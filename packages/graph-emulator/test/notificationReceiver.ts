/**
 * A real HTTPS server on loopback that plays the subscriber's notification endpoint in the tests: it answers
 * Graph's validation handshake (or not, per path) and records every request it receives.
 */
import * as NodeCrypto from "node:crypto"
import * as NodeHttp from "node:http"
import * as NodeHttps from "node:https"
import * as selfsigned from "selfsigned"
import { serverCertificate, type TestCa } from "../src/index.js"

export interface Received {
  readonly path: string
  readonly query: URLSearchParams
  readonly contentType: string
  readonly body: string
}

/** How a path answers: `(request, nth request on this path) => [status, body, contentType]`, or "hang". */
export type Behaviour = (received: Received, nth: number) => readonly [number, string, string] | "hang"

/** Echoes the validation token (200 text/plain), acknowledges everything else with 202. */
export const echo: Behaviour = (r) => {
  const token = r.query.get("validationToken")
  return token !== null ? [200, token, "text/plain; charset=utf-8"] : [202, "", "text/plain"]
}

/**
 * Passes the handshake like `echo`; notifications get `answer(nth notification on this path)`: a status
 * (empty text/plain body) or "hang".
 */
export const afterHandshake = (answer: (nth: number) => number | "hang"): Behaviour => {
  let notifications = 0
  return (r) => {
    if (r.query.has("validationToken")) return echo(r, 0)
    const a = answer(notifications++)
    return a === "hang" ? a : [a, "", "text/plain"]
  }
}

export interface Receiver {
  /** `https://127.0.0.1:PORT` (or `http://`) */
  readonly origin: string
  readonly received: Array<Received>
  /** change and lifecycle notifications (not validation requests) to `path` */
  readonly notifications: (path: string) => Array<any>
  /** resolves with the first request (already received or coming) that satisfies `p` */
  readonly waitFor: (p: (r: Received) => boolean) => Promise<Received>
  readonly on: (path: string, behaviour: Behaviour) => void
  readonly close: () => Promise<void>
}

export const sharedCa = (): TestCa => JSON.parse(process.env.GRAPH_EMULATOR_TEST_CA!) as TestCa

/** An HTTPS receiver with a certificate from `ca` (default: the tests' shared CA), or a plain HTTP one. */
export const startReceiver = async (ca: TestCa | "http" = sharedCa()): Promise<Receiver> => {
  const cert = ca === "http" ? undefined : await serverCertificate(ca)
  const received: Array<Received> = []
  const behaviours = new Map<string, Behaviour>()
  const counts = new Map<string, number>()
  const waiters: Array<{ p: (r: Received) => boolean; resolve: (r: Received) => void }> = []
  const hanging: Array<NodeHttp.ServerResponse> = []
  const handle = (req: NodeHttp.IncomingMessage, res: NodeHttp.ServerResponse) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "https://127.0.0.1")
      const r: Received = {
        path: url.pathname,
        query: url.searchParams,
        contentType: String(req.headers["content-type"] ?? ""),
        body: Buffer.concat(chunks).toString("utf8")
      }
      received.push(r)
      const nth = counts.get(r.path) ?? 0
      counts.set(r.path, nth + 1)
      const answer = (behaviours.get(r.path) ?? echo)(r, nth)
      if (answer === "hang") hanging.push(res)
      else {
        res.writeHead(answer[0], { "content-type": answer[2] })
        res.end(answer[1])
      }
      for (const w of [...waiters]) {
        if (w.p(r)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(r)
        }
      }
    })
  }
  const server = cert === undefined
    ? NodeHttp.createServer(handle)
    : NodeHttps.createServer({ key: cert.key, cert: cert.cert }, handle)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  return {
    origin: `${cert === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    received,
    notifications: (path) =>
      received.filter((r) => r.path === path && !r.query.has("validationToken")).map((r) => JSON.parse(r.body)),
    waitFor: (p) => {
      const seen = received.find(p)
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ p, resolve }))
    },
    on: (path, behaviour) => void behaviours.set(path, behaviour),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** A self-signed RSA certificate for `encryptionCertificate` (base64 DER) and its private key. */
export const encryptionCertificate = async (bits = 2048) => {
  const generated = await selfsigned.generate([{ name: "commonName", value: "notification test" }], {
    keyType: "rsa",
    keySize: bits
  })
  const x509 = new NodeCrypto.X509Certificate(generated.cert)
  return { base64: x509.raw.toString("base64"), privateKeyPem: generated.private, x509 }
}

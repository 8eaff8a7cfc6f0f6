/**
 * The emulator's HTTP client for notification URLs: one POST with a deadline, the answer read whole.
 */
import * as NodeHttp from "node:http"
import * as NodeHttps from "node:https"

export interface HttpAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/** An answer, "timeout" (none complete within the deadline), or "error" (the connection failed). */
export type PostResult = HttpAnswer | "timeout" | "error"

/**
 * POSTs `body` to `url`; `ca` (when given) replaces the trusted CAs of https requests; `signal` aborts it
 * (the result is then "error", or "timeout" when the deadline fired first).
 */
export const postNotification = (
  url: string,
  body: string,
  options: {
    readonly contentType: string
    readonly timeoutMs: number
    readonly ca: ReadonlyArray<string> | undefined
    readonly signal: AbortSignal
  }
): Promise<PostResult> =>
  new Promise<PostResult>((resolve) => {
    let settled = false
    const deadline = new AbortController()
    const finish = (r: PostResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal.removeEventListener("abort", abortOnClose)
      resolve(r)
    }
    const timer = setTimeout(() => {
      finish("timeout")
      deadline.abort()
    }, options.timeoutMs)
    // one signal for both the deadline and the caller's abort (AbortSignal.any needs Node 20.3)
    const abortOnClose = () => deadline.abort()
    options.signal.addEventListener("abort", abortOnClose, { once: true })
    let target: URL
    try {
      target = new URL(url)
    } catch {
      return finish("error")
    }
    const https = target.protocol === "https:"
    const request = (https ? NodeHttps.request : NodeHttp.request)(target, {
      method: "POST",
      headers: { "content-type": options.contentType, "content-length": Buffer.byteLength(body) },
      signal: deadline.signal,
      ...(https && options.ca !== undefined ? { ca: [...options.ca] } : {})
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () =>
        finish({
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          body: Buffer.concat(chunks).toString("utf8")
        }))
      res.on("error", () => finish("error"))
    })
    request.on("error", () => finish("error"))
    request.end(body)
  })

/**
 * The viewer over HTTP (real server on loopback, real files, real SQLite):
 * byte ranges, read-only methods, paths and symlinks that lead out of the
 * export, content types and the security headers, hostile data as JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { serve } from "../src/index.js"
import { fixtureMp4, fixtureVtt, tempDir, writeExport } from "./exportFixture.js"

interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

const request = (url: string, options: { method?: string; headers?: Record<string, string> } = {}) =>
  new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on("error", reject)
    req.end()
  })

const mp4 = fs.readFileSync(fixtureMp4)
const hostileId = "rec-\"><script>alert(1)</script>\u202Eevil"
let root: string
let out: string
let base: string
let scope: Scope.CloseableScope

beforeAll(async () => {
  root = tempDir()
  out = path.join(root, "export")
  fs.mkdirSync(out)
  // Outside the export: a secret file the viewer must never serve.
  fs.writeFileSync(path.join(root, "secret.txt"), "top secret")
  writeExport(out, [
    {
      meetingId: "m-plain",
      recording: { id: "rec-a", data: mp4 },
      transcript: { id: "tr-a", vtt: fs.readFileSync(fixtureVtt, "utf8") }
    },
    { meetingId: "m-dotdot", recording: { id: "rec-dotdot", path: "../secret.txt" } },
    { meetingId: "call-adhoc", source: "adhocCall", recording: { id: "rec-adhoc", data: mp4 } },
    { meetingId: "m-link", recording: { id: "rec-link", path: "org/link.mp4" } },
    { meetingId: "m-state", recording: { id: "rec-state", path: ".meeting-artifacts/state.sqlite" } },
    {
      meetingId: "m-html",
      recording: { id: "rec-html", data: Buffer.from("<script>alert(1)</script>"), contentType: "text/html" }
    },
    {
      meetingId: "m-<img src=x onerror=alert(1)>",
      organizerId: "org\u202Egnp.exe",
      recording: { id: hostileId, data: mp4 }
    }
  ])
  fs.symlinkSync(path.join(root, "secret.txt"), path.join(out, "org", "link.mp4"))
  scope = Effect.runSync(Scope.make())
  const viewer = await Effect.runPromise(Scope.extend(serve({ out, watchIntervalMs: 60_000 }), scope))
  base = viewer.url
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  fs.rmSync(root, { recursive: true, force: true })
})

const recording = (key: string) => `${base}media/recording?key=${encodeURIComponent(key)}`

describe("Viewer", () => {
  it("serves on 127.0.0.1 and answers with a strict CSP and nosniff", async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const page = await request(base)
    expect(page.status).toBe(200)
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'")
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'")
    expect(page.headers["content-security-policy"]).not.toContain("unsafe-inline")
    expect(page.headers["x-content-type-options"]).toBe("nosniff")
    // Everything the page loads is served by the viewer itself (works offline).
    const html = page.body.toString()
    for (const src of html.match(/(?:src|href)="[^"]+"/g) ?? []) {
      expect(src).toMatch(/="(\/|#)/)
      const target = src.slice(src.indexOf("\"") + 1, -1)
      if (target.startsWith("/")) expect((await request(base + target.slice(1))).status).toBe(200)
    }
    expect((await request(`${base}assets/app.js`)).headers["content-type"]).toBe("text/javascript; charset=utf-8")
  })

  it("is read-only: anything but GET and HEAD is 405", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await request(`${base}api/sets`, { method })
      expect(r.status).toBe(405)
      expect(r.headers.allow).toBe("GET, HEAD")
    }
  })

  it("refuses a Host it does not serve (DNS rebinding)", async () => {
    const r = await request(`${base}api/sets`, { headers: { host: "evil.example:80" } })
    expect(r.status).toBe(421)
  })

  it("serves a recording with byte ranges: 200 whole, 206 part, 416 beyond the end", async () => {
    const whole = await request(recording("r:rec-a"))
    expect(whole.status).toBe(200)
    expect(whole.headers["accept-ranges"]).toBe("bytes")
    expect(whole.headers["content-type"]).toBe("video/mp4")
    expect(whole.body.equals(mp4)).toBe(true)

    const part = await request(recording("r:rec-a"), { headers: { range: "bytes=100-199" } })
    expect(part.status).toBe(206)
    expect(part.headers["content-range"]).toBe(`bytes 100-199/${mp4.length}`)
    expect(part.body.equals(mp4.subarray(100, 200))).toBe(true)

    const open = await request(recording("r:rec-a"), { headers: { range: `bytes=${mp4.length - 10}-` } })
    expect(open.status).toBe(206)
    expect(open.body.equals(mp4.subarray(mp4.length - 10))).toBe(true)

    const suffix = await request(recording("r:rec-a"), { headers: { range: "bytes=-5" } })
    expect(suffix.status).toBe(206)
    expect(suffix.body.equals(mp4.subarray(mp4.length - 5))).toBe(true)

    const beyond = await request(recording("r:rec-a"), { headers: { range: `bytes=${mp4.length}-` } })
    expect(beyond.status).toBe(416)
    expect(beyond.headers["content-range"]).toBe(`bytes */${mp4.length}`)

    const head = await request(recording("r:rec-a"), { method: "HEAD", headers: { range: "bytes=0-9" } })
    expect(head.status).toBe(206)
    expect(head.headers["content-length"]).toBe("10")
    expect(head.body.length).toBe(0)
  })

  it("refuses manifest paths that lead out of the export, through .. or a symlink, or into the state folder", async () => {
    for (const key of ["r:rec-dotdot", "r:rec-link", "r:rec-state"]) {
      const r = await request(recording(key))
      expect(r.status).toBe(403)
      expect(r.body.toString()).not.toContain("top secret")
    }
    // Raw traversal in the URL reaches no file either.
    for (const p of ["../secret.txt", "..%2fsecret.txt", "media/../../secret.txt", "%2e%2e/%2e%2e/secret.txt"]) {
      const r = await request(base + p)
      expect(r.status).toBe(404)
      expect(r.body.toString()).not.toContain("top secret")
    }
  })

  it("never serves a recording as a document: a declared text/html is sent as bytes, sandboxed", async () => {
    const r = await request(recording("r:rec-html"))
    expect(r.status).toBe(200)
    expect(r.headers["content-type"]).toBe("application/octet-stream")
    expect(r.headers["content-security-policy"]).toContain("sandbox")
  })

  it("serves the transcript as text/vtt on the recording's timeline", async () => {
    const r = await request(`${base}media/transcript.vtt?key=${encodeURIComponent("r:rec-a")}`)
    expect(r.status).toBe(200)
    expect(r.headers["content-type"]).toBe("text/vtt; charset=utf-8")
    const text = r.body.toString()
    expect(text.startsWith("WEBVTT")).toBe(true)
    expect(text).toContain("00:00:01.500 --> 00:00:02.900")
    expect(text).toContain("<v Alex Wilber>The quarterly budget review is first.</v>")
  })

  it("returns hostile ids and names as JSON data, byte for byte, with a JSON content type", async () => {
    const list = await request(`${base}api/sets?text=${encodeURIComponent("img src")}`)
    expect(list.headers["content-type"]).toBe("application/json; charset=utf-8")
    const body = JSON.parse(list.body.toString())
    expect(body.total).toBe(1)
    expect(body.items[0].meetingId).toBe("m-<img src=x onerror=alert(1)>")
    expect(body.items[0].organizerId).toBe("org\u202Egnp.exe")
    const one = JSON.parse(
      (await request(`${base}api/set?key=${encodeURIComponent(`r:${hostileId}`)}`)).body.toString()
    )
    expect(one.entry.recording.id).toBe(hostileId)
    // And the hostile id is a working key for its recording.
    expect((await request(recording(`r:${hostileId}`), { headers: { range: "bytes=0-3" } })).status).toBe(206)
  })

  it("says which sets are ad hoc calls, in the list and in a set", async () => {
    const list = JSON.parse((await request(`${base}api/sets?limit=200`)).body.toString())
    const sources = Object.fromEntries(list.items.map((r: any) => [r.meetingId, r.source]))
    expect(sources["call-adhoc"]).toBe("adhocCall")
    expect(sources["m-plain"]).toBe("meeting")
    const one = JSON.parse((await request(`${base}api/set?key=${encodeURIComponent("r:rec-adhoc")}`)).body.toString())
    expect(one.source).toBe("adhocCall")
    expect(one.entry.source).toBe("adhocCall")
  })

  it("answers unknown sets and routes with 404 JSON", async () => {
    const r = await request(`${base}api/set?key=nope`)
    expect(r.status).toBe(404)
    expect(JSON.parse(r.body.toString()).error).toBe("no such set")
    expect((await request(recording("r:nope"))).status).toBe(404)
  })

  it("shows what a sync adds while it serves: the index is rebuilt and swapped in", async () => {
    const live = path.join(root, "live")
    fs.mkdirSync(live)
    writeExport(live, [{
      meetingId: "m-first",
      transcript: { id: "tr-1", vtt: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v A>alpha</v>\n" }
    }])
    const liveScope = Effect.runSync(Scope.make())
    try {
      const viewer = await Effect.runPromise(Scope.extend(serve({ out: live, watchIntervalMs: 50 }), liveScope))
      const total = async () => JSON.parse((await request(`${viewer.url}api/sets`)).body.toString()).total as number
      expect(await total()).toBe(1)
      writeExport(live, [
        {
          meetingId: "m-first",
          transcript: { id: "tr-1", vtt: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v A>alpha</v>\n" }
        },
        {
          meetingId: "m-second",
          transcript: { id: "tr-2", vtt: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v B>omega</v>\n" }
        }
      ])
      // Waits for the watcher (a condition, not a fixed sleep).
      const deadline = Date.now() + 30_000
      while ((await total()) !== 2) {
        if (Date.now() > deadline) throw new Error("the new set never showed up")
        await new Promise((r) => setTimeout(r, 50))
      }
      const hits = JSON.parse((await request(`${viewer.url}api/search?q=omega`)).body.toString())
      expect(hits.items.map((h: { meetingId: string }) => h.meetingId)).toEqual(["m-second"])
    } finally {
      await Effect.runPromise(Scope.close(liveScope, Exit.void))
    }
  })
})

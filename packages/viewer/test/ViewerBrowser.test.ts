/**
 * The viewer in a real browser: playwright-core driving Debian's chromium
 * (`apt-get install chromium`; .ci/run installs it) against a real server
 * over a real export with a real MP4. Screenshots land in
 * `<repo>/.tmp/screenshots/viewer-*.png` (git-ignored) for a human to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { BrowserContext, Page } from "playwright-core"
import { chromium } from "playwright-core"
import { serve } from "../src/index.js"
import { fixtureMp4, fixtureVtt, recordRuns, tempDir, writeExport } from "./exportFixture.js"

// Functions given to page.evaluate run in the browser; this project compiles without the DOM lib.
declare const document: any
declare const window: any
declare const location: any
type HTMLVideoElement = any
type HTMLTrackElement = any

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const screenshots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../.tmp/screenshots")

const hostileMeeting = "m-<script>window.__pwned=1</script>\"'"
const hostileOrganizer = "org-\u202Egnp.exe"
const hostileVtt = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v <img src=x onerror=\"window.__pwned=2\">" +
  "Eve \u202Eevil>\"quoted\" <script>window.__pwned=3</script> <b onclick=x>bold</b></v>\n"

let out: string
let profile: string
let base: string
let scope: Scope.CloseableScope
let context: BrowserContext
const pageErrors: Array<string> = []
const dialogs: Array<string> = []

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)`)
  }
  fs.mkdirSync(screenshots, { recursive: true })
  out = tempDir()
  const mp4 = fs.readFileSync(fixtureMp4)
  writeExport(out, [
    {
      meetingId: "m-budget-review",
      recording: { id: "rec-a", data: mp4 },
      transcript: { id: "tr-a", vtt: fs.readFileSync(fixtureVtt, "utf8") }
    },
    { meetingId: hostileMeeting, organizerId: hostileOrganizer, transcript: { id: "tr-hostile", vtt: hostileVtt } },
    // an ad hoc call's set: its id names the call
    { meetingId: "m-recording-only", source: "adhocCall", recording: { id: "rec-c", data: mp4 } },
    { meetingId: "m-outside", recording: { id: "rec-out", path: "../outside.mp4" } }
  ], [{
    kind: "recording",
    id: "rec-gone",
    meetingId: "m-budget-review",
    organizerId: "organizer-1",
    reason: "Forbidden <img src=x onerror=\"window.__pwned=4\">",
    status: 403,
    code: "Forbidden",
    requestId: "req-7f3a",
    at: "2026-03-02T10:00:00Z"
  }])
  await recordRuns(out, [
    { counts: { sets: 3, bytes: 220_000, requests: 40, throttled: 2, retries: 3, meteredCostUsd: 0.012 } },
    { counts: { sets: 3, bytes: 1_000, requests: 12, throttled: 0, retries: 0, meteredCostUsd: 0 }, status: "partial" }
  ])
  scope = Effect.runSync(Scope.make())
  base = (await Effect.runPromise(Scope.extend(serve({ out, watchIntervalMs: 60_000 }), scope))).url
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "ma-view-chromium-"))
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required"
    ]
  })
})

afterAll(async () => {
  await context?.close()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  if (profile !== undefined) fs.rmSync(profile, { recursive: true, force: true })
  if (out !== undefined) fs.rmSync(out, { recursive: true, force: true })
})

const newPage = async (): Promise<Page> => {
  const page = await context.newPage()
  page.on("pageerror", (e) => pageErrors.push(e.message))
  page.on("dialog", (d) => {
    dialogs.push(d.message())
    void d.dismiss()
  })
  return page
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(screenshots, `viewer-${name}.png`), fullPage: true })

const currentCue = (page: Page) =>
  page.evaluate(() => {
    const li = document.querySelector("#cues li.current")
    return li === null ? -1 : Number(li.getAttribute("data-index"))
  })

describe("Viewer in chromium", () => {
  it("lists every set, sorts and filters on the server", async () => {
    const page = await newPage()
    await page.goto(base)
    await page.waitForSelector("#sets tbody tr")
    expect(await page.locator("#sets tbody tr").count()).toBe(4)
    await page.click("button[data-sort=meeting]")
    await page.waitForFunction(() => location.hash.includes("sort=meeting"))
    await page.waitForFunction(() =>
      document.querySelector("#sets tbody tr td:nth-child(3) a")?.textContent === "m-recording-only"
    )
    // Told apart from the meetings: the ad hoc call's row says what it is.
    expect(await page.textContent("#sets tbody tr td:nth-child(3)")).toBe("ad hoc callm-recording-only")
    expect(await page.locator("#sets tbody td:has-text('ad hoc call')").count()).toBe(1)
    await page.fill("#filter-text", "budget")
    await page.waitForFunction(() => document.querySelectorAll("#sets tbody tr").length === 1)
    expect(await page.textContent("#sets tbody")).toContain("m-budget-review")
    await page.fill("#filter-text", "")
    await page.waitForFunction(() => document.querySelectorAll("#sets tbody tr").length === 4)
    await shot(page, "sets")
    await page.close()
  })

  it("plays the recording with the transcript as a track, the highlighted cue following currentTime", async () => {
    const page = await newPage()
    await page.goto(`${base}#/set?key=${encodeURIComponent("r:rec-a")}`)
    await page.waitForSelector("#player")
    const track = await page.evaluate(() => {
      const t = document.querySelector("#player track") as HTMLTrackElement
      return { src: t.src, kind: t.kind }
    })
    expect(track.kind).toBe("captions")
    // The browser loads the track as WebVTT: its cues become the text track's cues.
    await page.waitForFunction(() =>
      ((document.querySelector("#player") as HTMLVideoElement).textTracks[0]?.cues?.length ?? 0) === 4
    )
    await page.evaluate(() => {
      const v = document.querySelector("#player") as HTMLVideoElement
      v.muted = true
      return v.play()
    })
    // Playing on (no seek) moves the highlight off the first cue (0 - 1.4 s) to a later one.
    await page.waitForFunction(
      () => Number(document.querySelector("#cues li.current")?.getAttribute("data-index") ?? -1) >= 1,
      undefined,
      { timeout: 30_000 }
    )
    const seen = await page.evaluate(() => {
      const v = document.querySelector("#player") as HTMLVideoElement
      v.pause()
      return v.currentTime
    })
    expect(seen).toBeGreaterThan(1.4)
    await shot(page, "meeting-playing")
    // Paused at a known time, the highlight is the cue spoken then.
    await page.evaluate(() => {
      const v = document.querySelector("#player") as HTMLVideoElement
      return new Promise((resolve) => {
        v.addEventListener("seeked", resolve, { once: true })
        v.currentTime = 3.2
      })
    })
    await page.waitForFunction(() => document.querySelector("#cues li.current")?.getAttribute("data-index") === "2")
    expect(await page.textContent("#cues li.current")).toContain("Revenue grew in every region.")
    // The talk-time chart: Adele speaks two of the four cues.
    expect(await page.locator("#talk-time rect").count()).toBe(3)
    expect(await page.textContent("#talk-time")).toContain("Adele Vance")
    await page.close()
  })

  it("seeks the video when a cue is clicked", async () => {
    const page = await newPage()
    await page.goto(`${base}#/set?key=${encodeURIComponent("r:rec-a")}`)
    await page.waitForSelector("#cues li")
    await page.waitForFunction(() => (document.querySelector("#player") as HTMLVideoElement).readyState >= 1)
    await page.click("#cues li[data-index='3'] button")
    await page.waitForFunction(() =>
      Math.abs((document.querySelector("#player") as HTMLVideoElement).currentTime - 4.5) < 0.05
    )
    expect(await currentCue(page)).toBe(3)
    await shot(page, "meeting-seeked")
    await page.close()
  })

  it("searches every transcript; a result opens the meeting at that moment", async () => {
    const page = await newPage()
    await page.goto(`${base}#/search`)
    await page.fill("#search-input", "budg")
    await page.waitForSelector("#results li")
    expect(await page.locator("#results li").count()).toBe(1)
    expect(await page.textContent("#results mark")).toBe("budget")
    await shot(page, "search")
    await page.click("#results li a")
    await page.waitForSelector("#player")
    await page.waitForFunction(() =>
      Math.abs((document.querySelector("#player") as HTMLVideoElement).currentTime - 1.5) < 0.05
    )
    expect(await currentCue(page)).toBe(1)
    // The words searched for are marked in the cue list.
    expect(await page.textContent("#cues li.current mark")).toBe("budget")
    expect(await page.locator("#cues mark").count()).toBe(1)
    await shot(page, "search-result")
    await page.close()
  })

  it("renders hostile ids, names and cue text inert, bidi overrides shown, and says what a set lacks", async () => {
    const page = await newPage()
    await page.goto(base)
    await page.waitForSelector("#sets tbody tr")
    const sets = await page.textContent("#sets")
    expect(sets).toContain(hostileMeeting)
    expect(sets).toContain("org-[U+202E]gnp.exe")
    await page.click(`#sets a:has-text("window.__pwned")`)
    await page.waitForSelector("#cues li")
    const cue = await page.textContent("#cues li")
    expect(cue).toContain("<script>window.__pwned=3</script>")
    expect(cue).toContain("[U+202E]")
    expect(await page.isVisible("#no-recording")).toBe(true)
    await shot(page, "hostile")
    const injected = await page.evaluate(() => ({
      pwned: window.__pwned ?? null,
      scripts: [...document.querySelectorAll("script")].map((s) => s.getAttribute("src")),
      imgs: document.querySelectorAll("img").length,
      bolds: document.querySelectorAll("main b").length
    }))
    expect(injected).toEqual({ pwned: null, scripts: ["/assets/app.js"], imgs: 0, bolds: 0 })

    await page.goto(`${base}#/set?key=${encodeURIComponent("r:rec-c")}`)
    await page.waitForSelector("#no-transcript")
    expect(await page.textContent("h1")).toBe("Ad hoc call m-recording-only")
    expect(await page.isVisible("#player")).toBe(true)

    // A recording the viewer refuses to serve (its path leads out of the export) says so.
    await page.goto(`${base}#/set?key=${encodeURIComponent("r:rec-out")}`)
    await page.waitForSelector("#video-error")
    await page.close()
  })

  it("charts the run history and lists failures.jsonl with reason, status and request id", async () => {
    const page = await newPage()
    await page.goto(`${base}#/runs`)
    await page.waitForSelector("#run-charts")
    expect(await page.locator("#run-charts svg").count()).toBe(6)
    // One bar per run in each chart.
    expect(await page.locator("#run-charts svg").first().locator("rect").count()).toBe(2)
    const failures = await page.textContent("table.failures")
    expect(failures).toContain("req-7f3a")
    expect(failures).toContain("403")
    expect(failures).toContain("Forbidden <img src=x onerror=\"window.__pwned=4\">")
    expect(await page.evaluate(() => window.__pwned ?? null)).toBe(null)
    await shot(page, "runs")
    await page.close()
    expect(dialogs).toEqual([])
    expect(pageErrors).toEqual([])
  })
})

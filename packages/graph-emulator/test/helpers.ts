import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import type { RunningEmulator } from "../src/index.js"

export const fixturesDir = NodePath.join(NodePath.dirname(fileURLToPath(import.meta.url)), "fixtures")
export const docTenant = NodePath.join(fixturesDir, "doc-tenant.json")

export const ORGANIZER3 = "1273a016-201d-4f95-8083-1b7f99b3edeb"
export const MEETING3 =
  "MSoxMjczYTAxNi0yMDFkLTRmOTUtODA4My0xYjdmOTliM2VkZWIqMCoqMTk6bWVldGluZ19OV1EwWm1GbFpEY3RORFJqTmkwMFlXRm1MV0U1WXpBdE9UZzJNMk0yTm1Nd1pERTNAdGhyZWFkLnYy"
export const TRANSCRIPT3 = "MSMjMTI3M2EwMTYtMjAxZC00Zjk1LTgwODMtMWI3Zjk5YjNlZGViIyMxMjM0/abc+def=="
export const ORGANIZER1 = "b935e675-5e67-48b9-8d45-249d5f88e964"
export const MEETING1 =
  "MSpiOTM1ZTY3NS01ZTY3LTQ4YjktOGQ0NS0yNDlkNWY4OGU5NjQqMCoqMTk6bWVldGluZ19ZbU0zTnpJNU9USXRZakU0WlMwME1tUTNMVGt6TVRRdFkyWm1PRGRtWmpsaVptRTNAdGhyZWFkLnYy"

export const enc = encodeURIComponent

export const get = (
  emu: RunningEmulator,
  url: string,
  init: { token?: string | null; headers?: Record<string, string> } = {}
) => {
  const headers: Record<string, string> = { ...init.headers }
  const token = init.token === undefined ? emu.accessToken : init.token
  if (token !== null) headers.authorization = `Bearer ${token}`
  return fetch(url.startsWith("http") ? url : `${emu.baseUrl}${url}`, { headers, redirect: "manual" })
}

export const getJson = async (emu: RunningEmulator, url: string, init?: Parameters<typeof get>[2]) => {
  const res = await get(emu, url, init)
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

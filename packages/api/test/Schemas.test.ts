import { describe, expect, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CallRecording, GraphErrorEnvelope, ODataPage } from "../src/index.js"

const fixture = (name: string) =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`./fixtures/graph/${name}`, import.meta.url)), "utf8"))

describe("schemas", () => {
  it("decodes the doc's single recording, keeping the 7-digit timestamp and the internal @odata.type", () => {
    const rec = Schema.decodeUnknownSync(CallRecording)(fixture("doc-example-1-get-callRecording.json"))
    expect(rec.createdDateTime).toBe("2023-04-10T08:13:17.5990966Z")
    expect(rec.meetingOrganizer?.user?.["@odata.type"]).toBe("#Microsoft.Teams.GraphSvc.teamworkUserIdentity")
    expect(rec.meetingOrganizer?.user?.tenantId).toBe("d6c9ce1e-4f71-8dc3-5b55-6a411ea46324")
  })

  it("decodes the doc's filtered list with @microsoft.graph.tips and a GUID-0 correlation id", () => {
    const page = Schema.decodeUnknownSync(ODataPage(CallRecording))(
      fixture("doc-example-3-list-recordings-filter-contentCorrelationId.json")
    )
    expect(page.value).toHaveLength(1)
    expect(page.value[0].contentCorrelationId).toBe("e87c8cf8-50f7-4252-8b9c-ad08ac0fa88d-0")
    expect(page.value[0].id).toContain("=")
  })

  it("accepts payloads without the 2024-08 fields and with unknown properties", () => {
    const rec = Schema.decodeUnknownSync(CallRecording)({
      id: "a/b+c=",
      meetingId: "m",
      createdDateTime: null,
      surprise: { nested: true },
      meetingOrganizer: { user: { id: "u", unknownProp: 1 } }
    })
    expect(rec.callId).toBeUndefined()
    expect(rec.contentCorrelationId).toBeUndefined()
    expect(rec.createdDateTime).toBeNull()
  })

  it("rejects a recording without an id", () => {
    expect(() => Schema.decodeUnknownSync(CallRecording)({ meetingId: "m" })).toThrow(/id/)
  })

  it("decodes the error envelope with a nested innerError code", () => {
    const env = Schema.decodeUnknownSync(GraphErrorEnvelope)({
      error: {
        code: "Forbidden",
        message: "x",
        innerError: { code: "GraphAccessToTranscriptsDisabled", "request-id": "r" }
      }
    })
    expect(env.error.innerError?.code).toBe("GraphAccessToTranscriptsDisabled")
  })
})

import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { FlagError, resolveFlags } from "../src/internal/flags.js"
import { syncFlags } from "../src/internal/syncFlags.js"
import { tenantsProblem } from "../src/internal/runTenants.js"
import { decodeTenants, loadTenants, type TenantDefaults, type TenantsFileError } from "../src/internal/tenantsFile.js"

const defaults: TenantDefaults = { out: "/exports", rate: 20, maxRequests: 12, concurrency: 4 }
const contoso = {
  name: "contoso",
  tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  clientId: "0b5c7f1e-1111-4aaa-8bbb-2d7cd011db47",
  credential: { clientSecretEnv: "CONTOSO_CLIENT_SECRET" },
  organizers: ["u1", "u2"]
}
const fabrikam = { ...contoso, name: "fabrikam", tenantId: "fabrikam.onmicrosoft.com" }

const decode = (value: unknown, d: Partial<TenantDefaults> = {}) =>
  decodeTenants("/etc/ma/tenants.json", value, { ...defaults, ...d })

/** The error of a file that must be refused. */
const refused = (value: unknown, d: Partial<TenantDefaults> = {}): TenantsFileError => {
  const r = decode(value, d)
  if (Either.isRight(r)) throw new Error(`accepted: ${JSON.stringify(r.right)}`)
  return r.left
}

describe("tenants file", () => {
  it("applies each default: Graph's v1.0, <--out>/<name>, the flags' budget; a relative out is the file's folder's", () => {
    const r = decode({
      tenants: [contoso, { ...fabrikam, out: "fab", graphUrl: "https://graph.microsoft.us/v1.0", rate: 5 }]
    })
    expect(r).toEqual(Either.right([
      {
        ...contoso,
        graphUrl: "https://graph.microsoft.com/v1.0",
        out: "/exports/contoso",
        rate: 20,
        maxRequests: 12,
        concurrency: 4
      },
      {
        ...fabrikam,
        graphUrl: "https://graph.microsoft.us/v1.0",
        out: "/etc/ma/fab",
        rate: 5,
        maxRequests: 12,
        concurrency: 4
      }
    ]))
  })

  it("accepts each kind of credential reference", () => {
    for (
      const credential of [
        { clientSecretEnv: "S" },
        { certificatePath: "/etc/ma/contoso.pem" },
        { certificatePath: "/etc/ma/contoso.pem", certificatePasswordEnv: "P" },
        { accessTokenEnv: "T" }
      ]
    ) expect(Either.isRight(decode({ tenants: [{ ...contoso, credential }] })), JSON.stringify(credential)).toBe(true)
  })

  it.each([
    [{ tenants: [] }, "tenants", "must list at least one tenant"],
    [{ tenants: [contoso], extra: 1 }, "extra", "is unexpected"],
    [{ tenants: [{ ...contoso, clientSecret: "s3cret" }] }, "tenants[0].clientSecret", "is unexpected"],
    [{ tenants: [{ ...contoso, name: "../etc" }] }, "tenants[0].name", "letters, digits"],
    [{ tenants: [{ ...contoso, name: "a/b" }] }, "tenants[0].name", "letters, digits"],
    [{ tenants: [{ ...contoso, name: ".hidden" }] }, "tenants[0].name", "letters, digits"],
    [{ tenants: [{ ...contoso, name: "nul" }] }, "tenants[0].name", "letters, digits"],
    [{ tenants: [{ ...contoso, name: "a\u001b[31m" }] }, "tenants[0].name", "letters, digits"],
    [{ tenants: [contoso, { ...fabrikam, name: "Contoso" }] }, "tenants[1].name", "also the name of tenants[0]"],
    [{ tenants: [contoso, { ...contoso, name: "other" }] }, "tenants[1]", "same tenant and app as tenants[0]"],
    [{ tenants: [contoso, { ...fabrikam, out: "/exports/contoso/x" }] }, "tenants[1].out", "overlaps tenants[0]"],
    [{ tenants: [{ ...contoso, tenantId: "a tenant" }] }, "tenants[0].tenantId", "GUID or a domain name"],
    [{ tenants: [{ ...contoso, credential: {} }] }, "tenants[0].credential", "exactly one of"],
    [
      { tenants: [{ ...contoso, credential: { clientSecretEnv: "S", accessTokenEnv: "T" } }] },
      "tenants[0].credential",
      "exactly one of"
    ],
    [{ tenants: [{ ...contoso, credential: "s3cret" }] }, "tenants[0].credential", "must be an object"],
    [
      { tenants: [{ ...contoso, credential: { clientSecretEnv: "MY-SECRET" } }] },
      "tenants[0].credential.clientSecretEnv",
      "environment variable name"
    ],
    [
      { tenants: [{ ...contoso, credential: { certificatePath: "contoso.pem" } }] },
      "tenants[0].credential.certificatePath",
      "absolute path"
    ],
    [
      { tenants: [{ ...contoso, credential: { clientSecretEnv: "S", certificatePasswordEnv: "P" } }] },
      "tenants[0].credential",
      "certificatePasswordEnv goes with certificatePath"
    ],
    [{ tenants: [{ ...contoso, authorityHost: "http://login" }] }, "tenants[0].authorityHost", "https"],
    [{ tenants: [{ ...contoso, graphUrl: "ftp://graph" }] }, "tenants[0].graphUrl", "http(s) URL"],
    [{ tenants: [{ ...contoso, organizers: [] }] }, "tenants[0].organizers", "at least one organizer"],
    [{ tenants: [{ ...contoso, organizers: [" "] }] }, "tenants[0].organizers[0]", "must not be empty"],
    [{ tenants: [{ ...contoso, rate: 0 }] }, "tenants[0].rate", "positive number"],
    [{ tenants: [{ ...contoso, concurrency: 65 }] }, "tenants[0].concurrency", "from 1 to 64"],
    [{ tenants: [{ ...contoso, maxRequests: 1.5 }] }, "tenants[0].maxRequests", "integer"],
    // More downloads than requests in flight: named as the file spells them, or as the flags that gave them.
    [
      { tenants: [{ ...contoso, concurrency: 8, maxRequests: 6 }] },
      "tenants[0]",
      "concurrency 8 is above maxRequests 6"
    ],
    [{ tenants: [{ ...contoso, concurrency: 16 }] }, "tenants[0]", "concurrency 16 is above --max-requests 12"],
    [{ tenants: [{ ...contoso, maxRequests: 2 }] }, "tenants[0]", "--concurrency 4 is above maxRequests 2"]
  ])("refuses %j at %s", (value, field, problem) => {
    const e = refused(value)
    expect(e._tag).toBe("TenantsFileError")
    expect(e.field).toBe(field)
    expect(e.problem).toContain(problem)
    expect(e.message).toBe(`--tenants /etc/ma/tenants.json: ${field}: ${e.problem}`)
  })

  it("without maxRequests anywhere, a tenant's requests in flight follow its concurrency above the default", () => {
    const r = decode(
      { tenants: [{ ...contoso, concurrency: 16 }, { ...fabrikam, concurrency: 2 }] },
      { maxRequests: undefined }
    )
    if (Either.isLeft(r)) throw new Error(r.left.message)
    expect(r.right.map((t) => [t.concurrency, t.maxRequests])).toEqual([[16, 16], [2, 12]])
  })

  it("refuses a tenant without out when --out is not given", () => {
    expect(refused({ tenants: [contoso] }, { out: undefined }).message).toContain(
      "tenants[0].out: is required without --out"
    )
  })

  it("names the file when it cannot be read or is not JSON, without quoting its text", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-tenants-"))
    const missing = await Effect.runPromise(Effect.flip(loadTenants(path.join(dir, "none.json"), defaults)))
    expect(missing.message).toBe(`--tenants ${path.join(dir, "none.json")}: cannot read it (ENOENT)`)
    const broken = path.join(dir, "broken.json")
    fs.writeFileSync(broken, "{\"tenants\": [{\"name\": \"s3cret\"")
    const e = await Effect.runPromise(Effect.flip(loadTenants(broken, defaults)))
    expect(e.message).toMatch(new RegExp(`^--tenants ${broken}: not valid JSON`))
    expect(e.message).not.toContain("s3cret")
    // A secret pasted unquoted: JSON.parse's own message would quote the text around it.
    for (
      const text of [
        "{\"tenants\": [{\"credential\": {\"clientSecretEnv\": Xq8~s3cret}}]}",
        "{\"tenants\": [{\"name\": \"a\",\n  \"credential\": Xq8~s3cret\n}]}"
      ]
    ) {
      fs.writeFileSync(broken, text)
      const pasted = await Effect.runPromise(Effect.flip(loadTenants(broken, defaults)))
      expect(pasted.message).toMatch(new RegExp(`^--tenants ${broken}: not valid JSON`))
      expect(pasted.message).not.toContain("s3cret")
      expect(pasted.message).not.toContain("Xq8")
    }
  })
})

describe("sync flags with --tenants", () => {
  it("--organizer and --out are required unless --tenants", () => {
    expect(() => resolveFlags(syncFlags, { out: "/x" }, {}, undefined)).toThrow(FlagError)
    expect(() => resolveFlags(syncFlags, { organizer: ["o"] }, {}, undefined)).toThrow("--out <dir> is required")
    const r = resolveFlags(syncFlags, { tenants: "t.json" }, {}, undefined)
    expect(r).toMatchObject({ tenants: "t.json", organizer: [], out: undefined })
  })

  it("refuses what names one tenant's things", () => {
    const config = {
      ...resolveFlags(syncFlags, { tenants: "t.json" }, {}, undefined),
      logFormat: "human" as const
    }
    expect(tenantsProblem(config)).toBeUndefined()
    expect(tenantsProblem({ ...config, organizer: ["o"] })).toContain("--organizer cannot be combined with --tenants")
    expect(tenantsProblem({ ...config, graphUrl: "http://127.0.0.1:1/v1.0" })).toContain("--graph-url")
    expect(tenantsProblem({ ...config, state: "/x.sqlite" })).toContain("--state cannot be combined")
    expect(tenantsProblem({ ...config, meeting: ["m"] })).toContain("--meeting")
  })
})

describe("the README's tenants file", () => {
  it("decodes as the README says: fabrikam's folder under --out, contoso's own", () => {
    const readme = fs.readFileSync(path.join(__dirname, "../../../README.md"), "utf8")
    const section = readme.slice(readme.indexOf("### Several tenants"))
    const json = /```json\n([\s\S]*?)```/.exec(section)![1]!
    const r = decode(JSON.parse(json), { out: "/mnt/exports" })
    if (Either.isLeft(r)) throw new Error(r.left.message)
    expect(r.right.map((t) => [t.name, t.out, t.graphUrl, t.rate])).toEqual([
      ["contoso", "/mnt/exports/contoso", "https://graph.microsoft.com/v1.0", 10],
      ["fabrikam", "/mnt/exports/fabrikam", "https://graph.microsoft.us/v1.0", 20]
    ])
  })
})

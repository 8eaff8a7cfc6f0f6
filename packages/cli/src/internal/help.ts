/**
 * `--help` text, rendered from the commands' flag tables (the same tables that drive parsing and
 * the environment), plain text unless the stream is a terminal and NO_COLOR is unset.
 */
import type { Flag, FlagTable } from "./flags.js"

export interface CommandHelp {
  readonly name: string
  /** One line, for the command list. */
  readonly summary: string
  readonly description: ReadonlyArray<string>
  readonly flags: FlagTable
  /** Flag names that are alternatives to each other, shown as one usage group ("--fixture | --generate"). */
  readonly usage?: string | undefined
}

const WIDTH = 80

const wrap = (text: string, indent: number, width = WIDTH): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent + line.length + 1 + word.length > width) {
      lines.push(" ".repeat(indent) + line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  if (line !== "") lines.push(" ".repeat(indent) + line)
  return lines
}

const signature = (f: Flag): string =>
  `--${f.name}${f.kind === "boolean" ? "" : ` <${f.pseudo ?? (f.kind === "text" ? "value" : "n")}>`}${
    f.kind === "list" ? "..." : ""
  }`

const status = (f: Flag): string => {
  const parts = [f.required ?? "optional"]
  if (f.kind === "list") parts.push("repeatable")
  if (f.default !== undefined) parts.push(`default ${f.default}`)
  else if (f.defaultText !== undefined) parts.push(`default ${f.defaultText}`)
  return parts.join(", ")
}

const sources = (f: Flag): string | undefined => {
  const from = [
    ...(f.env !== undefined ? [`env ${f.env}${f.kind === "list" ? " (comma-separated)" : ""}`] : []),
    ...(f.inFile === true ? [`config key ${f.name}`] : [])
  ]
  return from.length === 0 ? undefined : `Also: ${from.join("; ")}.`
}

const usageLine = (program: string, c: CommandHelp): string => {
  if (c.usage !== undefined) return `${program} ${c.name} ${c.usage}`
  const flags = Object.values(c.flags)
  // A flag required unless another is given is in the usage too: the common case needs it.
  const required = flags.filter((f) => f.required === "required" || f.requiredUnless !== undefined).map(signature)
  return `${program} ${c.name} ${[...required, "[options]"].join(" ")}`
}

export interface Style {
  readonly bold: (text: string) => string
}

export const plain: Style = { bold: (t) => t }
const ansi: Style = { bold: (t) => `\u001b[1m${t}\u001b[22m` }

/** Bold headings only on a terminal without NO_COLOR (https://no-color.org: any non-empty value). */
export const styleFor = (
  stream: { readonly isTTY?: boolean | undefined },
  env: Record<string, string | undefined>
): Style => stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "") ? ansi : plain

export const renderCommandHelp = (program: string, c: CommandHelp, style: Style = plain): string => {
  const out: Array<string> = [
    ...wrap(`${program} ${c.name}: ${c.summary}`, 0),
    "",
    style.bold("Usage:"),
    ...wrap(usageLine(program, c), 2),
    ""
  ]
  for (const p of c.description) out.push(...wrap(p, 0), "")
  const flags = Object.values(c.flags)
  const order = [
    "flag",
    ...(flags.some((f) => f.env !== undefined) ? ["environment"] : []),
    ...(flags.some((f) => f.inFile === true) ? ["config file"] : []),
    "default"
  ]
  out.push(style.bold(order.length > 2 ? `Options (precedence: ${order.join(" > ")}):` : "Options:"))
  for (const f of flags) {
    const head = `  ${signature(f)}`
    const tag = status(f)
    const padded = head.padEnd(Math.max(head.length + 2, 34))
    if (padded.length + tag.length <= WIDTH) out.push(`${padded}${tag}`)
    else out.push(head, ...wrap(tag, 6))
    out.push(...wrap(f.description, 6))
    const from = sources(f)
    if (from !== undefined) out.push(...wrap(from, 6))
  }
  out.push(`  --help${" ".repeat(34 - 8)}show this help`)
  return `${out.join("\n")}\n`
}

export const renderRootHelp = (
  program: string,
  version: string,
  summary: string,
  commands: ReadonlyArray<CommandHelp>,
  style: Style = plain
): string => {
  const width = Math.max(...commands.map((c) => c.name.length)) + 4
  return [
    ...wrap(`${program} ${version}: ${summary}`, 0),
    "",
    style.bold("Usage:"),
    `  ${program} <command> [options]`,
    "",
    style.bold("Commands:"),
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    style.bold("Options:"),
    "  --help       show this help (or a command's: <command> --help)",
    "  --version    print the version",
    ""
  ].join("\n")
}

/**
 * The help asked for by `argv` (after node and the script), or undefined when the command line is
 * not a help request: `--help`/`-h` anywhere before `--`, or no arguments at all.
 */
export const helpRequest = (
  args: ReadonlyArray<string>,
  commands: ReadonlyArray<CommandHelp>
): { readonly command: CommandHelp | undefined } | undefined => {
  const end = args.indexOf("--")
  const before = end < 0 ? args : args.slice(0, end)
  if (args.length === 0) return { command: undefined }
  if (!before.some((a) => a === "--help" || a === "-h")) return undefined
  // A command without a help table of its own (or a typo) is left to @effect/cli.
  const first = before.find((a) => !a.startsWith("-"))
  if (first === undefined) return { command: undefined }
  const command = commands.find((c) => c.name === first)
  return command === undefined ? undefined : { command }
}

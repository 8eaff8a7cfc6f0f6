/**
 * A flag table as `@effect/cli` options. Every option is optional at this level: required flags,
 * defaults and checks apply after the environment and the config file had their say
 * (`resolveFlags`), so `--help` and error messages describe one set of rules.
 */
import { Options } from "@effect/cli"
import * as Option from "effect/Option"
import type { Flag, FlagTable, Parsed } from "./flags.js"

type ParsedOption<F> = F extends Flag<"list"> ? ReadonlyArray<string>
  : F extends Flag<"boolean"> ? boolean
  : F extends Flag<"text"> ? Option.Option<string>
  : Option.Option<number>

export type TableOptions<T extends FlagTable> = { readonly [K in keyof T]: Options.Options<ParsedOption<T[K]>> }

const toOption = (f: Flag): Options.Options<unknown> => {
  const named = <A>(o: Options.Options<A>) =>
    o.pipe(Options.withDescription(f.description), f.pseudo !== undefined ? Options.withPseudoName(f.pseudo) : (x) => x)
  switch (f.kind) {
    case "boolean":
      return Options.boolean(f.name).pipe(Options.withDescription(f.description))
    case "list":
      return named(Options.text(f.name)).pipe(Options.repeated)
    case "text":
      return named(Options.text(f.name)).pipe(Options.optional)
    case "integer":
      return named(Options.integer(f.name)).pipe(Options.optional)
    case "number":
      return named(Options.float(f.name)).pipe(Options.optional)
  }
}

export const tableOptions = <T extends FlagTable>(table: T): TableOptions<T> =>
  Object.fromEntries(Object.entries(table).map(([k, f]) => [k, toOption(f)])) as unknown as TableOptions<T>

/** What the options parsed, as `resolveFlags` takes it. */
export const parsedValues = <T extends FlagTable>(
  parsed: { readonly [K in keyof T]: unknown }
): { readonly [K in keyof T]?: Parsed } =>
  Object.fromEntries(
    Object.entries(parsed).map(([k, v]) => [k, Option.isOption(v) ? Option.getOrUndefined(v) : v])
  ) as { readonly [K in keyof T]?: Parsed }

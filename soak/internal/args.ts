/** `--name value` / `--name=value` options of a soak script, and a boolean `--name`. */
export const option = (name: string, fallback: number): number => {
  const args = process.argv.slice(2)
  const eq = args.find((a) => a.startsWith(`--${name}=`))
  const i = args.indexOf(`--${name}`)
  const raw = eq !== undefined ? eq.slice(name.length + 3) : i >= 0 ? args[i + 1] : undefined
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} wants a whole number, got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return n
}

export const flag = (name: string): boolean => process.argv.slice(2).includes(`--${name}`)

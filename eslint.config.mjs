// ESLint over every package, test, example, bench and script. Formatting is a lint rule: dprint through
// @effect/eslint-plugin (as in Effect's own monorepo), configured to this repository's style: no
// semicolons, double quotes, 2 spaces, no trailing commas, 120 columns, imports in the order written.
// `pnpm lint --fix` formats.
//
// FORMAT_SEVERITY: "warn" until the tree has been formatted once (`pnpm lint --fix` on a quiet main, so
// no open branch is reformatted under its authors); then "error".
import * as effectEslint from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

const FORMAT_SEVERITY = "error"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.tmp/**", "out/**", "**/*.tmp.*", "bench/results/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mjs", "**/*.js"],
    plugins: { "@effect": effectEslint },
    rules: {
      "@effect/dprint": [FORMAT_SEVERITY, {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force",
          "module.sortImportDeclarations": "maintain",
          "module.sortExportDeclarations": "maintain",
          "importDeclaration.sortNamedImports": "maintain",
          "exportDeclaration.sortNamedExports": "maintain"
        }
      }],
      // tsc reports these (noUnusedLocals); the rest of the recommended set stays on.
      "@typescript-eslint/no-unused-vars": "off",
      // Effect code passes `any` through generic plumbing on purpose (Effect's own config allows it too).
      "@typescript-eslint/no-explicit-any": "off"
    }
  }
)

// Drive one official JavaScript client through the calls capture.py plans, and say what each call got.
// Run with node from this folder's installation (`npm ci`): the plan arrives as JSON on standard input,
// {"package": "es8" | "es9", "url", "api_key", "opaque_id", "params", "calls": [{"connector_id", "status", "options"}]},
// the answer is JSON on standard output: {"version", "results": [{"http", "body" | "error", "warnings"}]}.
// Each call gets a client of its own, configured with the call's options only.
import { readFileSync } from 'node:fs'

const plan = JSON.parse(readFileSync(0, 'utf8'))
const { Client } = await import(plan.package)
const manifest = new URL(`./node_modules/${plan.package}/package.json`, import.meta.url)
const version = JSON.parse(readFileSync(manifest, 'utf8')).version
const results = []
for (const call of plan.calls) {
  const options = new Set(call.options)
  const client = new Client({
    node: plan.url,
    auth: { apiKey: plan.api_key },
    compression: options.has('compression')
  })
  const params = { connector_id: call.connector_id, status: call.status }
  for (const [name, value] of Object.entries(plan.params)) {
    if (options.has(name)) params[name] = value
  }
  const requestOptions = { meta: true }
  if (options.has('opaque-id')) requestOptions.opaqueId = plan.opaque_id
  let result
  try {
    const answer = await client.connector.updateStatus(params, requestOptions)
    result = { http: answer.statusCode, body: answer.body, warnings: answer.warnings ?? [] }
  } catch (error) {
    result = { http: error.meta?.statusCode ?? null, error: String(error), warnings: error.meta?.warnings ?? [] }
  }
  results.push(result)
  await client.close()
}
process.stdout.write(JSON.stringify({ version, results }))

// verify-webhook.mjs checks deliveries of encoderd's webhooks with Svix's
// own library (npm "svix", Webhook.verify), the way a receiver written
// for Seam's webhooks checks them. It reads one JSON object per line on
// stdin, {"secret", "headers": {name: value}, "body"}, and prints one line
// per delivery: {"ok": true, "event_id": …} or {"ok": false, "error": …}.

import { createInterface } from 'node:readline'
import { Webhook } from 'svix'

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (line.trim() === '') continue
  const { secret, headers, body } = JSON.parse(line)
  try {
    const payload = new Webhook(secret).verify(body, headers)
    process.stdout.write(JSON.stringify({ ok: true, event_id: payload.event_id, event_type: payload.event_type }) + '\n')
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e?.message ?? e) }) + '\n')
  }
}
